import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

import flowtrail as ft
from flowtrail.core.db.database import make_engine
from flowtrail.core.db.migrate import current_revision, head_revision, upgrade
from flowtrail.core.instance import SCHEMA_REVISION
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


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_populated_0004_registry_keeps_its_records_through_0005(database, tmp_path, monkeypatch, request):
    """0005 rebuilds the artifact and run tables on SQLite (new columns with foreign keys)."""
    from alembic import command

    from flowtrail.core.db.context import disconnect
    from flowtrail.core.db.migrate import alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}" if database == "sqlite" else request.getfixturevalue("postgres_url")
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    ft.init(".", db=url)
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "raw.txt").write_text("raw")
    raw = ft.Artifact(tmp_path / "raw.txt", key="raw.txt").save()
    run = ft.track(params={"sample": "s1"})
    raw.cache()  # read inside the run: a run_input row
    artifact = ft.Artifact(tmp_path / "a.txt", key="a.txt").save()
    ft.finish()
    disconnect()
    command.downgrade(alembic_config(url), "0004")
    assert current_revision(url) == "0004"
    upgrade(url)
    assert current_revision(url) == SCHEMA_REVISION
    again = ft.Artifact.get(key="a.txt")
    assert again.run is not None, "the artifact lost its run: the table rebuild ran ON DELETE SET NULL"
    assert (again.uid, again.hash, again.run.uid) == (artifact.uid, artifact.hash, run.uid)
    assert [a.key for a in again.run.inputs] == ["raw.txt"]
    ft.Feature(name="batch", dtype=int).save()
    again.features.add_values({"batch": 1})
    assert ft.Artifact.filter(batch=1, run__params__sample="s1").one().uid == artifact.uid
    disconnect()


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_0006_gives_old_registries_collision_free_keys_and_turns_root_into_references(
    database, tmp_path, monkeypatch, request
):
    from alembic import command

    from flowtrail.core.db.context import disconnect
    from flowtrail.core.db.migrate import alembic_config
    from flowtrail.core.runs.tracking import start_run

    url = f"sqlite:///{tmp_path / 'old.db'}" if database == "sqlite" else request.getfixturevalue("postgres_url")
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    inst = ft.init(".", db=url)
    # As 0005-era code wrote them: task keys by task name, functions as __main__.<name>, "/" a location.
    etl = start_run("etl", type="pipeline", engine="prefect")
    start_run("load", type="task", parent=etl, engine="prefect")
    start_run("shared", type="task", parent=etl, engine="prefect")
    other = start_run("other", type="pipeline", engine="prefect")
    start_run("shared", type="task", parent=other, engine="prefect")
    script = start_run("scripts/a.py", type="script")
    start_run("__main__.normalise", type="function", parent=script)
    start_run("__main__.loose", type="function")
    with inst.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO storage (uid, root, type, created_at) VALUES ('rootrootroot', '/', 'local', '2025-01-01')"
        )
    disconnect()
    command.downgrade(alembic_config(url), "0005")
    upgrade(url)

    keys = {t.key for t in ft.Transform.filter()}
    assert {"etl/load", "scripts/a.py:normalise"} <= keys
    assert "shared" in keys and "__main__.loose" in keys  # runs of two flows / no script: left alone
    assert ft.Storage.get(root="/").type == "local-references"
    assert "/" not in [s.root for s in ft.connect().storages()]
