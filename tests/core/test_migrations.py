import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import flowtrail as ft
from flowtrail.core.database import make_engine
from flowtrail.core.instance import SCHEMA_REVISION
from flowtrail.core.migrate import current_revision, head_revision, upgrade
from flowtrail.core.models import Record


def test_the_code_expects_the_newest_migration():
    assert SCHEMA_REVISION == head_revision()


def _diff(url):
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return compare_metadata(MigrationContext.configure(conn), Record.metadata)
    finally:
        engine.dispose()


def test_models_and_migrations_agree_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade(url)
    assert current_revision(url) == SCHEMA_REVISION
    assert _diff(url) == []


@pytest.mark.postgres
def test_models_and_migrations_agree_on_postgres(postgres_url):
    upgrade(postgres_url)
    assert _diff(postgres_url) == []


def test_a_registry_without_schema_says_to_run_migrate(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWTRAIL_DB_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ft.SchemaVersionError) as info:
        ft.connect()
    assert "flowtrail migrate" in str(info.value)


def test_an_old_schema_revision_is_reported(instance):
    with instance.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0000'")
    with pytest.raises(ft.SchemaVersionError) as info:
        ft.connect()
    assert "'0000'" in str(info.value) and "migrate" in str(info.value)
