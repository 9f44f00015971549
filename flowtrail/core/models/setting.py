"""Instance-wide settings stored in the registry itself (name, default storage, namespace).

Keeping them in the database means a database URL alone is enough to use a shared registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from flowtrail.core.db.database import write_transaction
from flowtrail.core.models.record import JSONType, Record

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance


class Setting(Record):
    """One instance-wide setting."""

    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONType())


def get_setting(instance: Instance, key: str, default: Any = None) -> Any:
    session = instance.sessions.current()
    try:
        found = session.scalar(select(Setting.value).where(Setting.key == key))
    finally:
        instance.sessions.end_read()
    return default if found is None else found


def set_setting(instance: Instance, key: str, value: Any) -> None:
    with write_transaction(instance.sessions, [f"setting:{key}"]) as session:
        found = session.get(Setting, key)
        if found is None:
            session.add(Setting(key=key, value=value))
        else:
            found.value = value


def setdefault_setting(instance: Instance, key: str, value: Any) -> Any:
    """Store ``value`` unless the setting exists; return the stored value (concurrent callers agree)."""
    with write_transaction(instance.sessions, [f"setting:{key}"]) as session:
        found = session.get(Setting, key)
        if found is not None:
            return found.value
        session.add(Setting(key=key, value=value))
    return value
