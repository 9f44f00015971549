"""The one door engine adapters write through: files, runs, failures and the instance handle.

An engine adapter (Snakemake, Nextflow, Prefect, the OpenLineage consumer) turns what an engine
says about its tasks into registry records. It imports this package for every write, and the
model classes (:mod:`flowtrail.core.models`), :mod:`flowtrail.core.query.queryset`,
:mod:`flowtrail.core.lineage.graph` and :mod:`flowtrail.core.errors` for reads; never the database,
instance, saving, tracking or id modules themselves. The rules of the registry (how a file
becomes an artifact, how a run row is built, which links exist) then live once, behind the door.

How an adapter records one invocation::

    from flowtrail.core import adapter

    instance = adapter.connect_for(settings.instance, folders=[workdir])
    recording = adapter.Recording("MyEngine", open_journal=...)     # failures: once, then journal or off
    files = adapter.FileRegistry(instance, hash_mode="full")
    files.register_folder(workdir)                                   # files in it are registered in place

    (workflow,) = adapter.start_runs(instance, [adapter.RunStart("pipeline.nf", type="pipeline", engine="myengine")])
    inputs = files.inputs(["/data/raw.csv"])                         # no producing run; cached per invocation
    (task,) = adapter.start_runs(instance, [
        adapter.RunStart("pipeline.nf/step1", type="process", parent=workflow, engine="myengine", inputs=inputs),
    ])                                                               # START announced with its inputs linked
    outputs = [a for _spec, a in files.outputs([adapter.FileSpec("/work/out.csv", run=task)])]
    adapter.finish_runs(instance, [adapter.RunEnd(task, "completed", outputs=outputs, metrics={"exit_code": 0})])

Each call in the same thread, wrapped in ``recording.guard(...)`` by the adapter's recorder.

What an implementer (an adapter) must do, and what each call guarantees:

- **Connect once per invocation** (:func:`connect_for`) and pass the :class:`Instance` to every
  call. Nothing here connects by itself, and nothing reads the ambient tracked run: files are
  registered with the run an adapter names, or none (``save_artifacts(run=None)``), so an engine
  started from a tracked script does not credit the script with its inputs.
- **Threads.** The registry's sessions are per thread. Call the door from one recorder thread
  (or process) per invocation; :class:`FileRegistry` and :class:`Recording` are not thread-safe.
  The engine's own threads should only queue events for that thread: no call here belongs in an
  engine's hot path (each costs a transaction).
- **Transactions.** :func:`start_runs` writes all its runs with their transforms and input links
  in one transaction; :func:`finish_runs` all its statuses, metrics and output links in another;
  :meth:`FileRegistry.resolve` / :meth:`~FileRegistry.outputs` all new files of a call in one
  (then one by one if a file fails). Each is all or nothing. Pass many tasks per call when the
  engine reports many at once (an adapter that fell behind): that is what makes recording cheap.
- **Announcements.** Run listeners (OpenLineage emission) hear of a run after its transaction
  committed: a START names the inputs linked in the same call. ``announce=False`` defers that to
  :func:`announce`, for adapters that add more (pipes, streams) before the START goes out.
- **Idempotence.** A run ``uid`` may be given (one the task's processes already know): a
  placeholder with it (made by a script inside the task) is filled in, a run already started or
  ended with it is refused (:class:`~flowtrail.core.errors.TrackingError`). Input and output links
  are only added when missing, and re-registering identical content returns the existing artifact
  (linking the new producer as a writer). A replayed journal therefore records each thing once.
- **Registry failures.** A call that fails raises, with nothing half written. A registry failure
  (:func:`is_registry_error`: unreachable, locked past its bound, read-only, full, no instance) is
  handed to :meth:`Recording.failed`: it warns once and switches the adapter to its journal (an
  outage that passes, :func:`is_outage`) or off; the adapter must then stop calling the door and,
  if journaling, append what it would have written (:class:`JournalWriter`). A failure of one
  file (vanished, unreadable) is not a registry failure: the file is left out and reported once
  per kind (:meth:`Recording.once`). The engine's workflow is never affected.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Lazy: an engine's process that loads the adapter (a Snakemake logger plugin, Prefect hooks) pays
# for the registry's imports only when it first records something.
# What the door offers, by the module that holds it (a name -> module table built from this).
_HOLDERS: dict[str, str] = {
    "flowtrail.core.adapter.connection": "connect_for current_config detach_emitter find_config",
    "flowtrail.core.adapter.files": "FileRegistry FileSpec FileState Known file_state is_empty_folder is_url",
    "flowtrail.core.adapter.nodes": "add_node set_producer",
    "flowtrail.core.adapter.objects": "save_objects",
    "flowtrail.core.adapter.report": "Recording ensure_warnings_shown first_line is_outage is_registry_error show_warnings",
    "flowtrail.core.adapter.run_rows": "RunRows",
    "flowtrail.core.adapter.runs": "RunEnd RunStart announce finish_runs start_runs",
    "flowtrail.core.annotations.encoding": "FeatureInfo Problem",
    "flowtrail.core.annotations.values": "ValueResolver add_values_many feature_catalog",
    "flowtrail.core.artifacts.save": "update_artifact",
    "flowtrail.core.db.config": "instance_name",
    "flowtrail.core.db.context": "current disconnect",
    "flowtrail.core.db.database": "write_transaction",
    "flowtrail.core.errors": "FlowtrailError RegistryError TrackingError",
    "flowtrail.core.instance": "Instance",
    "flowtrail.core.models.run": "FINAL_STATUSES OUTPUT_KINDS RUN_STATUSES link_inputs record_outputs",
    "flowtrail.core.runs.context": "RunRef add_context_provider child_environment config_namespace own_namespace remove_context_provider",
    "flowtrail.core.runs.journal": "JournalWriter",
    "flowtrail.core.runs.partial_runs": "discard_run_tree",
    "flowtrail.core.runs.projects": "env_project",
    "flowtrail.core.runs.tracking": "add_run_listener current_run remove_run_listener",
    "flowtrail.core.util.host": "current_user",
    "flowtrail.core.util.keys": "validate_key",
    "flowtrail.core.util.params": "MAX_REPR jsonable",
    "flowtrail.core.util.versioning": "first_version next_version successor",
}
_EXPORTS: dict[str, str] = {name: module for module, names in _HOLDERS.items() for name in names.split()}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from flowtrail.core.adapter.connection import connect_for, current_config, detach_emitter, find_config
    from flowtrail.core.adapter.files import (
        FileRegistry,
        FileSpec,
        FileState,
        Known,
        file_state,
        is_empty_folder,
        is_url,
    )
    from flowtrail.core.adapter.nodes import add_node, set_producer
    from flowtrail.core.adapter.objects import save_objects
    from flowtrail.core.adapter.report import (
        Recording,
        ensure_warnings_shown,
        first_line,
        is_outage,
        is_registry_error,
        show_warnings,
    )
    from flowtrail.core.adapter.run_rows import RunRows
    from flowtrail.core.adapter.runs import RunEnd, RunStart, announce, finish_runs, start_runs
    from flowtrail.core.annotations.encoding import FeatureInfo, Problem
    from flowtrail.core.annotations.values import ValueResolver, add_values_many, feature_catalog
    from flowtrail.core.artifacts.save import update_artifact
    from flowtrail.core.db.config import instance_name
    from flowtrail.core.db.context import current, disconnect
    from flowtrail.core.db.database import write_transaction
    from flowtrail.core.errors import FlowtrailError, RegistryError, TrackingError
    from flowtrail.core.instance import Instance
    from flowtrail.core.models.run import FINAL_STATUSES, OUTPUT_KINDS, RUN_STATUSES, link_inputs, record_outputs
    from flowtrail.core.runs.context import (
        RunRef,
        add_context_provider,
        child_environment,
        config_namespace,
        own_namespace,
        remove_context_provider,
    )
    from flowtrail.core.runs.journal import JournalWriter
    from flowtrail.core.runs.partial_runs import discard_run_tree
    from flowtrail.core.runs.projects import env_project
    from flowtrail.core.runs.tracking import add_run_listener, current_run, remove_run_listener
    from flowtrail.core.util.host import current_user
    from flowtrail.core.util.keys import validate_key
    from flowtrail.core.util.params import MAX_REPR, jsonable
    from flowtrail.core.util.versioning import first_version, next_version, successor
