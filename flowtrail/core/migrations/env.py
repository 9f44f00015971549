"""Alembic environment: runs flowtrail's migrations against the URL the caller passes in."""

from __future__ import annotations

from alembic import context

from flowtrail.core.db.database import make_engine
from flowtrail.core.models import Record

config = context.config
target_metadata = Record.metadata


def run() -> None:
    engine = make_engine(config.attributes["db_url"])
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                # SQLite's batch mode rebuilds a table (copy, DROP, rename). With foreign keys on,
                # the DROP would run ON DELETE actions: run_input rows deleted, artifact.run_id
                # set to NULL. The pragma only works outside a transaction, so it goes to the
                # driver connection before SQLAlchemy begins one.
                connection.connection.dbapi_connection.execute("PRAGMA foreign_keys = OFF")  # type: ignore[union-attr]
            # render_as_batch lets ALTER-style changes work on SQLite too.
            context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
    finally:
        engine.dispose()


run()
