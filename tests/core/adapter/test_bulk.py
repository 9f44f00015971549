"""Bulk writes past the ORM: rows come back with their ids, updates touch only the rows named,
input links are added once, and new versions look like versions a save makes."""

from __future__ import annotations

from flowtrail.core.adapter.bulk import insert_input_links, insert_versions, insert_with_ids, update_by_id
from flowtrail.core.db.database import write_transaction
from flowtrail.core.models import Artifact, Run, Storage, Transform
from flowtrail.core.util.versioning import first_version, next_version


def test_rows_written_in_bulk_read_back_like_records(instance, tmp_path):
    with write_transaction(instance.sessions) as session:
        storage = Storage(str(tmp_path), "local")
        session.add(storage)
        session.flush()
        jobs = [{"uid": first_version()[0], "namespace": "etl", "key": f"job-{i}", "version": 1, "is_latest": True,
                 "type": "task", "facets": {"n": i}} for i in range(3)]  # fmt: skip
        job_ids = insert_with_ids(session, Transform, jobs)
        runs = [{"uid": f"run-{i}", "transform_id": job_ids[i], "status": "scheduled"} for i in range(3)]
        run_ids = insert_with_ids(session, Run, runs)
        uid, version = first_version()
        (table_id,) = insert_versions(session, [{"uid": uid, "version": version, "is_latest": True, "key": "out/table.csv.gz",
                                                  "storage_id": storage.id, "kind": "dataset", "run_id": run_ids[0]}])  # fmt: skip
        update_by_id(session, Run, [{"_id": run_ids[1], "status": "completed"}])
        assert insert_input_links(session, [(run_ids[1], table_id), (run_ids[1], table_id), (run_ids[2], table_id)]) == 2
        assert insert_input_links(session, [(run_ids[1], table_id)]) == 0
    assert [t.facets for t in Transform.filter(id__in=job_ids).order_by("id")] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert [Run.get(id=i).status for i in run_ids] == ["scheduled", "completed", "scheduled"]
    table = Artifact.get(id=table_id)
    assert (table.suffix, table.path, table.is_managed, table.run.uid) == (".csv.gz", "out/table.csv.gz", False, "run-0")
    assert table.created_at is not None
    assert sorted(r.uid for r in table.input_of_runs) == ["run-1", "run-2"]


def test_a_bulk_version_follows_the_versioning_rule(instance, tmp_path):
    with write_transaction(instance.sessions) as session:
        storage = Storage(str(tmp_path), "local")
        session.add(storage)
        session.flush()
        uid, version = first_version()
        (first_id,) = insert_versions(session, [{"uid": uid, "version": version, "is_latest": True, "key": "t.csv",
                                                  "storage_id": storage.id, "kind": "dataset"}])  # fmt: skip
    first = Artifact.get(id=first_id)
    with write_transaction(instance.sessions) as session:
        previous = session.get(Artifact, first_id)
        uid, version = next_version([previous])
        (second_id,) = insert_versions(session, [{"uid": uid, "version": version, "is_latest": True, "key": "t.csv",
                                                   "storage_id": storage.id, "kind": "dataset"}])  # fmt: skip
    second = Artifact.get(id=second_id)
    assert second.uid[:16] == first.uid[:16] and second.version == 2 and second.is_latest
    assert Artifact.get(id=first_id).is_latest is False
