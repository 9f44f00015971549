"""Storing OpenLineage events in the registry.

Mapping: job -> Transform (namespace + name), run -> Run (keyed by runId), dataset -> Artifact
(namespace + name resolved like any other file: inside the longest registered storage location,
so a file a Spark job wrote and a Snakemake rule read is one artifact), parent facet -> parent
Run, inputs -> run inputs, outputs -> artifacts produced by the run (a new version per producing
run, as Marquez versions datasets; a datasetVersion facet becomes the version's hash).

Each batch runs in one transaction: raw events go into the append-only ``lineage_event`` log
(identical events are stored once), then every run they touch is re-folded from *all* its
stored events (:mod:`.fold`), which makes the result independent of arrival order.

A batch costs a fixed number of queries whatever its size: everything it touches (stored events
of its runs, jobs, runs, dataset versions, input links) is loaded with one ``IN`` query per kind,
decided in memory, and written back with one ``executemany`` per kind
(:class:`._batch.Batch`). The decisions are those of storing the runs one by one, so the
registry is the same either way. Two of those queries read, inside the database, every version
of the datasets a batch touches and every run of its jobs (no index covers "latest version of a
dataset" or "latest run of a job"): larger batches share that cost among more events.

The work is split by concept into private modules (their names are public inside the package,
each lists them in ``__all__``; only this module is the consumer's entry point):
:mod:`._prepared` (validated events and their content hash), :mod:`._dataset_naming` (the storage
holding a dataset and its key), :mod:`._statements` (the SQL a batch runs), :mod:`._batch_state`
(the rows a batch holds), :mod:`._batch_jobs` (jobs), :mod:`._batch_runs` (runs, parents, input
links), :mod:`._batch_datasets` (dataset versions, placeholders) and :mod:`._batch` (the event
log, folding, and the batch composed of those parts). Rows are written past the ORM through
:mod:`flowtrail.core.adapter.bulk`; new versions follow the door's versioning rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowtrail.core.adapter import write_transaction
from flowtrail.core.openlineage.emitter import namespace_of
from flowtrail.core.openlineage.naming import dataset_location
from flowtrail.integrations.openlineage._batch import Batch
from flowtrail.integrations.openlineage._dataset_naming import dataset_key
from flowtrail.integrations.openlineage._prepared import Prepared, canonical_hash
from flowtrail.integrations.openlineage.tags import apply_tag_values, carries_tags
from flowtrail.integrations.openlineage.validation import InvalidEvent, Problem, check_event

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance


@dataclass
class IngestResult:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    runs: int = 0

    def __add__(self, other: IngestResult) -> IngestResult:
        return IngestResult(
            self.received + other.received, self.stored + other.stored,
            self.duplicates + other.duplicates, self.runs + other.runs,
        )  # fmt: skip


class Ingestor:
    """Writes batches of events into one instance."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.own_namespace = namespace_of(instance)

    # -- entry points -----------------------------------------------------------------------------
    def prepare(self, event: Any, index: int | None = None, text: str | None = None) -> Prepared:
        """Validate one event; raise :class:`InvalidEvent` naming every problem.

        ``text``, the event's JSON as received, is stored instead of a re-serialisation.
        """
        kind = check_event(event, index)
        self._check_names(event, kind, index)
        return Prepared(canonical_hash(event), kind, event, text)

    def ingest(self, events: Sequence[Any]) -> IngestResult:
        """Validate and store a batch atomically: any invalid event rejects the whole batch."""
        many = len(events) > 1
        return self.store([self.prepare(event, index if many else None) for index, event in enumerate(events)])

    def store(self, prepared: Sequence[Prepared]) -> IngestResult:
        """Store validated events in one transaction and re-fold every run they touch."""
        items: list[Prepared] = []
        seen: set[str] = set()
        for item in prepared:
            if item.digest not in seen:
                seen.add(item.digest)
                items.append(item)
        result = IngestResult(received=len(prepared))
        with write_transaction(self.instance.sessions, ["openlineage:ingest"]) as session:
            batch = Batch(session, self.own_namespace)
            fresh = batch.log(items)
            result.stored = len(fresh)
            result.duplicates = len(prepared) - len(fresh)
            run_ids = sorted({i.event["run"]["runId"] for i in fresh if i.kind == "run"})
            states = batch.fold(run_ids, {i.digest: i.event for i in items})
            others = [i for i in fresh if i.kind in ("dataset", "job")]
            batch.prepare_runs(states)
            batch.load_datasets(states, others)
            batch.apply_runs(states)
            result.runs = len(run_ids)
            for item in others:
                if item.kind == "dataset":
                    batch.apply_dataset_event(item.event)
                else:
                    batch.apply_job_event(item.event)
            batch.write()
            tagged = [v.id for v in batch.versions() if v.id and carries_tags(v)]
        batch.expire_loaded_records()
        if tagged:
            apply_tag_values(self.instance, tagged)
        return result

    def _check_names(self, event: dict[str, Any], kind: str, index: int | None) -> None:
        problems = []
        datasets: list[tuple[str, Any]] = []
        if kind == "dataset":
            datasets.append(("dataset", event["dataset"]))
        for side in ("inputs", "outputs"):
            datasets += [(f"{side}[{i}]", d) for i, d in enumerate(event.get(side) or [])]
        for field_name, dataset in datasets:
            _root, location = dataset_location(dataset["namespace"], dataset["name"])
            try:
                dataset_key(location.split("://", 1)[-1])
            except Exception as exc:
                problems.append(Problem(f"{field_name}.name", str(exc)))
        if problems:
            raise InvalidEvent(problems, index)


__all__ = ["IngestResult", "Ingestor", "InvalidEvent", "Prepared", "canonical_hash", "dataset_location"]
