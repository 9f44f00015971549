"""Telling flowtrail's run listeners (OpenLineage emission) about runs the writer wrote.

The writer inserts run rows with its own SQL statements, so it announces each start and
finish here, with a ``Run`` built from the written values (not loaded back from the registry).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowtrail.core.models import Run


def has_listeners() -> bool:
    from flowtrail.core import tracking

    listeners = getattr(tracking, "_listeners", None)
    return listeners is None or bool(listeners)


def notify_listeners(event: str, run: Run) -> None:
    """Tell flowtrail's run listeners (OpenLineage emission) about a run written here."""
    from flowtrail.core import tracking

    notify = getattr(tracking, "notify", None) or getattr(tracking, "_notify", None)
    if notify is not None:
        notify(event, run)
