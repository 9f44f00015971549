"""Schema migrations through Alembic; the scripts live in ``flowtrail/core/migrations``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parents[1] / "migrations"


def alembic_config(db_url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["db_url"] = db_url
    return config


def upgrade(db_url: str, revision: str = "head") -> None:
    """Bring the database at ``db_url`` to ``revision`` (default: the newest)."""
    from alembic import command

    command.upgrade(alembic_config(db_url), revision)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    assert head is not None
    return head


def current_revision(db_url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    from flowtrail.core.db.database import make_engine

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
