"""Building OpenLineage ``RunEvent``s from registry runs.

Run ids are the registry's own run uids (UUIDv7 for runs flowtrail starts; adapters reuse the
engine's UUIDs), the job is ``(namespace, transform key)``, and datasets follow the naming spec.
"""

from __future__ import annotations

import datetime as dt
import logging
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attr
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    DatasetFacet,
    RunFacet,
    dataset_version_dataset,
    error_message_run,
    job_type_job,
    nominal_time_run,
    parent_run,
    processing_engine_run,
    schema_dataset,
    source_code_job,
    storage_dataset,
    tags_dataset,
    tags_run,
)

from flowtrail._version import __version__
from flowtrail.core.models.feature import Feature
from flowtrail.core.models.label import Label
from flowtrail.core.models.links import artifact_feature_value as afv
from flowtrail.core.models.links import artifact_label as al
from flowtrail.core.openlineage.naming import dataset_name

if TYPE_CHECKING:
    from flowtrail.core.models.artifact import Artifact
    from flowtrail.core.models.run import Run as RegistryRun

logger = logging.getLogger("flowtrail")

PRODUCER = f"https://pypi.org/project/flowtrail/{__version__}/"
FACET_SCHEMA_URL = "https://flowtrail.dev/spec/facets/1-0-0/FlowtrailDatasetFacet.json#/$defs/FlowtrailDatasetFacet"
# Both facets' schemas ship in one file.
RUN_FACET_SCHEMA_URL = "https://flowtrail.dev/spec/facets/1-0-0/FlowtrailDatasetFacet.json#/$defs/FlowtrailRunFacet"
FACET_SCHEMA_FILE = Path(__file__).with_name("FlowtrailDatasetFacet.json")
STATE_OF_STATUS = {
    "completed": RunState.COMPLETE,
    "cached": RunState.COMPLETE,
    "failed": RunState.FAIL,
    "aborted": RunState.ABORT,
    "started": RunState.START,
    "scheduled": RunState.START,
}
SHELL_TYPES = ("rule", "process")


@attr.define
class FlowtrailDatasetFacet(DatasetFacet):
    """The flowtrail artifact behind a dataset (schema shipped as ``FlowtrailDatasetFacet.json``)."""

    uid: str
    hash: str
    hashType: str  # noqa: N815 - OpenLineage's camelCase
    key: str | None = None
    version: int | None = None

    @staticmethod
    def _get_schema() -> str:
        return FACET_SCHEMA_URL


@attr.define
class FlowtrailRunFacet(RunFacet):
    """The run's params, so consumers (and a receiving flowtrail) see what produced the outputs."""

    params: dict[str, Any]

    @staticmethod
    def _get_schema() -> str:
        return RUN_FACET_SCHEMA_URL


def iso(value: dt.datetime | None) -> str:
    moment = value or dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:  # SQLite returns naive UTC datetimes
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.isoformat()


@lru_cache(maxsize=4096)
def _parquet_fields(path: str, size: int) -> tuple[tuple[str, str], ...] | None:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return None
    try:
        schema = pq.read_schema(path)
    except Exception:  # unreadable or not parquet after all: no schema facet
        return None
    return tuple((field.name, str(field.type)) for field in schema if not field.name.startswith("__index_level_"))


def dataset_facets(artifact: Artifact) -> dict[str, Any]:
    facets: dict[str, Any] = {}
    if artifact.hash:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=artifact.hash, producer=PRODUCER
        )
        facets["flowtrail"] = FlowtrailDatasetFacet(
            uid=artifact.uid, hash=artifact.hash, hashType=artifact.hash_type or "md5",
            key=artifact.key, version=artifact.version, producer=PRODUCER,
        )  # fmt: skip
    layer = "file" if artifact.storage.is_local else artifact.storage.type
    facets["storage"] = storage_dataset.StorageDatasetFacet(
        storageLayer=layer, fileFormat=artifact.suffix.lstrip(".") or None, producer=PRODUCER
    )
    tags = _artifact_tags(artifact)
    if tags:
        facets["tags"] = tags_dataset.TagsDatasetFacet(
            tags=[tags_dataset.TagsDatasetFacetFields(key=k, value=v, source="FLOWTRAIL") for k, v in tags],
            producer=PRODUCER,
        )
    if artifact.suffix == ".parquet" and artifact.storage.is_local:
        fields = _parquet_fields(artifact.storage.full_path(artifact.path), artifact.size or 0)
        if fields:
            facets["schema"] = schema_dataset.SchemaDatasetFacet(
                fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t in fields], producer=PRODUCER
            )
    return facets


def _artifact_tags(artifact: Artifact) -> list[tuple[str, str]]:
    """Feature values and labels as ``(key, value)`` tags, so consumers see the annotations."""
    from sqlalchemy import select
    from sqlalchemy.orm import object_session

    session = object_session(artifact)
    if session is None or artifact.id is None:
        return []
    tags: list[tuple[str, str]] = []
    values = select(Feature.name, Feature.dtype, afv.c.value_num, afv.c.value_str, afv.c.value_json).join(
        Feature, Feature.id == afv.c.feature_id
    ).where(afv.c.artifact_id == artifact.id).order_by(Feature.name, afv.c.id)
    for name, dtype, number, text, data in session.execute(values):
        if dtype == "int":
            shown = str(int(number))
        elif dtype == "bool":
            shown = "true" if number else "false"
        elif dtype == "float":
            shown = repr(number)
        elif dtype == "dict":
            import json

            shown = json.dumps(data, sort_keys=True)
        else:
            shown = text
        tags.append((name, shown))
    labels = select(Feature.name, Label.name).select_from(al).join(Label, Label.id == al.c.label_id).outerjoin(
        Feature, Feature.id == al.c.feature_id
    ).where(al.c.artifact_id == artifact.id).order_by(Feature.name, Label.name)
    tags.extend((feature or "label", label) for feature, label in session.execute(labels))
    return tags


def _job_facets(run: RegistryRun) -> dict[str, Any]:
    transform = run.transform
    engine = run.engine or "python"
    facets: dict[str, Any] = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH",
            integration="FLOWTRAIL" if engine == "python" else engine.upper(),
            jobType=transform.type.upper(),
            producer=PRODUCER,
        )
    }
    if transform.source_code:
        language = "shell" if transform.type in SHELL_TYPES else "python"
        facets["sourceCode"] = source_code_job.SourceCodeJobFacet(
            language=language, sourceCode=transform.source_code, producer=PRODUCER
        )
    return facets


def _root(run: RegistryRun) -> RegistryRun:
    seen = {run.id}
    while run.parent is not None and run.parent.id not in seen:
        run = run.parent
        seen.add(run.id)
    return run


def _run_facets(run: RegistryRun, state: RunState, namespace: str) -> dict[str, Any]:
    facets: dict[str, Any] = {
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
            version=run.engine_version or "unknown",
            name=run.engine or "python",
            openlineageAdapterVersion=__version__,
            producer=PRODUCER,
        ),
        "nominalTime": nominal_time_run.NominalTimeRunFacet(
            nominalStartTime=iso(run.started_at or run.created_at),
            nominalEndTime=iso(run.finished_at) if run.finished_at else None,
            producer=PRODUCER,
        ),
    }
    if run.params:
        facets["flowtrail"] = FlowtrailRunFacet(params=run.params, producer=PRODUCER)
    parent = run.parent
    if parent is not None:
        root = _root(parent)
        facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=parent.uid),
            job=parent_run.Job(namespace=namespace, name=parent.transform.key),
            root=parent_run.Root(
                run=parent_run.RootRun(runId=root.uid),
                job=parent_run.RootJob(namespace=namespace, name=root.transform.key),
            ),
            producer=PRODUCER,
        )
    if run.project_id is not None and run.project is not None:
        facets["tags"] = tags_run.TagsRunFacet(
            tags=[tags_run.TagsRunFacetFields(key="project", value=run.project.name, source="FLOWTRAIL")],
            producer=PRODUCER,
        )
    if state == RunState.FAIL:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=run.error or "failed", programmingLanguage=run.engine or "python", producer=PRODUCER
        )
    return facets


def run_event(run: RegistryRun, state: RunState, namespace: str) -> RunEvent:
    """The event for ``run`` entering ``state`` (inputs always; outputs on COMPLETE/FAIL/ABORT)."""
    terminal = state in (RunState.COMPLETE, RunState.FAIL, RunState.ABORT)
    inputs = []
    for artifact in run.inputs:
        ns, name = dataset_name(artifact)
        inputs.append(InputDataset(namespace=ns, name=name, facets=dataset_facets(artifact)))
    outputs = []
    if terminal:
        for artifact in run.outputs:
            ns, name = dataset_name(artifact)
            outputs.append(OutputDataset(namespace=ns, name=name, facets=dataset_facets(artifact)))
    when = run.finished_at if terminal else (run.started_at or run.created_at)
    return RunEvent(
        eventType=state,
        eventTime=iso(when),
        producer=PRODUCER,
        run=Run(runId=run.uid, facets=_run_facets(run, state, namespace)),
        job=Job(namespace=namespace, name=run.transform.key, facets=_job_facets(run)),
        inputs=inputs,
        outputs=outputs,
    )


def events_for(run: RegistryRun, namespace: str) -> list[RunEvent]:
    """START, plus the terminal event when the run has finished: what a backfill replays."""
    events = [run_event(run, RunState.START, namespace)]
    state = STATE_OF_STATUS.get(run.status, RunState.OTHER)
    if state != RunState.START:
        events.append(run_event(run, state, namespace))
    return events
