"""One file, one node: a file another producer's events named keeps its identity and producer when
flowtrail saves it, and ingesting events never turns a folder into a storage location."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest

import flowtrail as ft
from flowtrail.integrations.openlineage.ingest import Ingestor


@pytest.fixture
def ingestor(instance):
    return Ingestor(instance)


def spark_write(run_id, path, *, inputs=(), job="spark.orders"):
    """A COMPLETE event shaped like openlineage-spark's: file datasets with a schema facet."""
    schema = {
        "_producer": "https://github.com/OpenLineage/OpenLineage/tree/1.30.0/integration/spark",
        "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
        "fields": [{"name": "order_id", "type": "long"}, {"name": "amount", "type": "double"}],
    }
    return {
        "eventType": "COMPLETE",
        "eventTime": "2025-01-01T10:00:00Z",
        "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.30.0/integration/spark",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run_id, "facets": {}},
        "job": {"namespace": "spark", "name": job, "facets": {}},
        "inputs": [{"namespace": "file", "name": str(p)} for p in inputs],
        "outputs": [{"namespace": "file", "name": str(path), "facets": {"schema": schema}}],
    }


def write_parquet_folder(folder):
    folder.mkdir(parents=True)
    pd.DataFrame({"order_id": [1, 2], "amount": [9.5, 3.0]}).to_parquet(folder / "part-00000.parquet")


def test_ingesting_a_file_dataset_never_registers_a_storage_location(instance, ingestor, tmp_path):
    outside = tmp_path / "elsewhere" / "orders.csv"
    outside.parent.mkdir()
    outside.write_text("order_id\n1\n")
    ingestor.ingest([spark_write(str(uuid.uuid4()), outside)])

    assert [s.root for s in instance.storages()] == [str(instance.default_storage.root)]
    dataset = ft.Artifact.get(run__transform__key="spark.orders")
    assert dataset.location == str(outside)  # an external reference by its absolute path

    # Unrelated local files are still copied into managed storage, as before any event.
    other = tmp_path / "elsewhere" / "notes.txt"
    other.write_text("keep me\n")
    saved = ft.Artifact(other, key="notes.txt").save()
    assert saved.is_managed and saved.storage.root == instance.default_storage.root
    other.unlink()
    assert saved.cache().read_text() == "keep me\n"


def test_saving_a_file_a_spark_job_wrote_keeps_its_producer_and_fills_its_hash(instance, ingestor, tmp_path):
    source = tmp_path / "lake" / "raw_orders.csv"
    source.parent.mkdir()
    source.write_text("order_id,amount\n1,9.5\n2,3.0\n")
    orders = tmp_path / "lake" / "orders.parquet"
    write_parquet_folder(orders)
    spark_run = str(uuid.uuid4())
    ingestor.ingest([spark_write(spark_run, orders, inputs=[source])])
    known = ft.Artifact.get(run__uid=spark_run)
    assert known.hash is None

    ft.track()
    saved = ft.Artifact(orders).save()  # before reading it: the script is its reader
    frame = saved.load()  # the parquet folder loads: it kept the format the event gave it
    ft.finish()

    assert saved.id == known.id and saved.version == 1 and ft.Artifact.filter(key=known.key).count() == 1
    assert saved.hash is not None and saved.kind == "folder" and saved.suffix == ".parquet"
    assert saved.run.uid == spark_run  # the Spark job is still its producer
    assert list(frame["order_id"]) == [1, 2]
    script = ft.Run.get(transform__type="script")
    assert [a.id for a in script.inputs] == [known.id] and list(script.outputs) == []
    upstream = {a.key for a in saved.upstream().artifacts}
    assert known.key.replace("orders.parquet", "raw_orders.csv") in upstream


def test_saving_a_known_file_again_returns_the_record_and_never_changes_its_producer(instance, tmp_path):
    data = tmp_path / "project" / "data"
    data.mkdir()
    (data / "counts.csv").write_text("a\n1\n")
    ft.Storage.register(data)
    first_run = ft.track()
    made = ft.Artifact(data / "counts.csv").save()
    ft.finish()
    ft.track()
    again = ft.Artifact(data / "counts.csv").save()
    ft.finish()
    assert again.id == made.id and again.run.uid == first_run.uid
