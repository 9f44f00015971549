"""Nextflow's own lineage store (nf-lineage, ``lineage.enabled = true``, Nextflow 25.04+).

Each record is ``<store>/<key>/.data.json``; keys are a run hash (``WorkflowRun``), a task hash
(``TaskRun``), ``<hash>#output`` (``TaskOutput``/``WorkflowOutput``) and ``<hash>/<relpath>``
(``FileOutput``). Records are ``lineage/v1beta1``: Nextflow 25.04 writes them flat
(``{"version", "kind", ...fields}``), 25.07-edge and later inside a ``spec`` envelope
(``{"version", "kind", "spec": {...}}``); :func:`unwrap` accepts both.

The store gives exact task inputs (``TaskRun.input``: upstream outputs as ``lid://`` references,
external files as paths) and outputs (``TaskOutput.output``), and, for published files, the task
output each one copies (``FileOutput.source``). Its checksums are Nextflow cache keys (path, size
and mtime), not content hashes, so flowtrail still hashes the files itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flowtrail.integrations.nextflow import _fs

DATA_FILE = ".data.json"
LID_PREFIX = "lid://"


def unwrap(record: dict[str, Any]) -> dict[str, Any]:
    """The record's fields, whether written flat (25.04) or inside ``spec`` (25.07+)."""
    spec = record.get("spec")
    if isinstance(spec, dict):
        return {**spec, "kind": record.get("kind", spec.get("kind")), "version": record.get("version")}
    return dict(record)


def lid_key(value: str) -> str | None:
    """``lid://abc/x.txt`` -> ``abc/x.txt``; None for anything else."""
    if isinstance(value, str) and value.startswith(LID_PREFIX):
        return value[len(LID_PREFIX) :].split("?", 1)[0].rstrip("/") or None
    return None


@dataclass(frozen=True)
class PathValue:
    """A path in a record: a ``lid://`` reference to a task output, or a plain file."""

    lid: str | None  # "taskhash/rel" for a task output
    path: str | None  # the real path or URL when known


def path_values(value: Any) -> Iterator[PathValue]:
    """Every path a ``Parameter`` value holds (strings, ``DataPath`` dicts, nested lists)."""
    if value is None:
        return
    if isinstance(value, list | tuple):
        for item in value:
            yield from path_values(item)
    elif isinstance(value, dict):
        if "path" in value and isinstance(value["path"], str):
            key = lid_key(value["path"])
            yield PathValue(key, None) if key else PathValue(None, _fs.strip_file_scheme(value["path"]))
        else:
            for item in value.values():
                yield from path_values(item)
    elif isinstance(value, str):
        key = lid_key(value)
        if key:
            yield PathValue(key, None)
        elif value.startswith(("/", "file:")) or _fs.is_url(value):
            yield PathValue(None, _fs.strip_file_scheme(value))


class LineageStore:
    """Read access to one lineage store (local folder or object-store URL)."""

    def __init__(self, location: str) -> None:
        self.location = _fs.normalize(location)
        self._cache: dict[str, dict[str, Any] | None] = {}

    def __repr__(self) -> str:
        return f"LineageStore({self.location!r})"

    def exists(self) -> bool:
        return _fs.isdir(self.location)

    def read(self, key: str, *, refresh: bool = False) -> dict[str, Any] | None:
        """The record at ``key``, unwrapped; None when it is not (yet) written."""
        if not refresh and self._cache.get(key) is not None:
            return self._cache[key]
        text = _fs.read_text(_fs.join(self.location, key, DATA_FILE))
        record = None
        if text:
            try:
                record = unwrap(json.loads(text))
            except (ValueError, TypeError):
                record = None  # being written right now: read again later
        self._cache[key] = record
        return record

    # -- typed access -----------------------------------------------------------------------------
    def task_run(self, task_hash: str) -> dict[str, Any] | None:
        record = self.read(task_hash)
        return record if record and record.get("kind") == "TaskRun" else None

    def task_output(self, task_hash: str) -> dict[str, Any] | None:
        record = self.read(f"{task_hash}#output")
        return record if record and record.get("kind") == "TaskOutput" else None

    def file_path(self, key: str) -> str | None:
        """The real path of the ``FileOutput`` at ``key`` (``taskhash/rel``)."""
        record = self.read(key)
        if record and record.get("kind") == "FileOutput" and record.get("path"):
            return _fs.strip_file_scheme(str(record["path"]))
        return None

    def task_inputs(self, task_hash: str) -> tuple[list[PathValue], dict[str, Any]] | None:
        """``(paths, values)``: path inputs and ``val``/``env``/``each`` inputs by name; None if unrecorded."""
        record = self.task_run(task_hash)
        if record is None:
            return None
        paths: list[PathValue] = []
        values: dict[str, Any] = {}
        for param in record.get("input") or []:
            if not isinstance(param, dict):
                continue
            kind = str(param.get("type") or "").lower()
            if kind in ("path", "file"):
                paths.extend(path_values(param.get("value")))
            elif param.get("name"):
                values[str(param["name"])] = param.get("value")
        return paths, values

    def task_outputs(self, task_hash: str) -> list[PathValue] | None:
        """The path outputs of a task; None when its ``TaskOutput`` is not written."""
        record = self.task_output(task_hash)
        if record is None:
            return None
        paths: list[PathValue] = []
        for param in record.get("output") or []:
            if isinstance(param, dict) and str(param.get("type") or "").lower() in ("path", "file"):
                paths.extend(path_values(param.get("value")))
        return paths

    # -- runs ------------------------------------------------------------------------------------
    def history(self) -> list[dict[str, str]]:
        """``.history/<runHash>`` lines: time, run name, session id, LID."""
        folder = _fs.join(self.location, ".history")
        entries = []
        for name, is_dir in sorted(_fs.listdir(folder)):
            if is_dir:
                continue
            text = _fs.read_text(_fs.join(folder, name))
            for line in (text or "").splitlines():
                cells = line.split("\t")
                if len(cells) >= 4:
                    entries.append({"time": cells[0], "name": cells[1], "session_id": cells[2], "lid": cells[3]})
        return entries

    def workflow_run_key(self, run_name: str | None = None, session_id: str | None = None) -> str | None:
        """The key of the ``WorkflowRun`` of a run, found by its name (and session id)."""
        for entry in reversed(self.history()):
            if run_name and entry["name"] != run_name:
                continue
            if session_id and entry["session_id"] != session_id:
                continue
            return lid_key(entry["lid"])
        return None

    def workflow_run(self, key: str) -> dict[str, Any] | None:
        record = self.read(key)
        return record if record and record.get("kind") == "WorkflowRun" else None

    def published(self, run_key: str) -> list[tuple[str, str | None]]:
        """``(path, source LID key)`` of files a run published (``FileOutput`` under the run's key)."""
        fs, path = _fs.filesystem_for(_fs.join(self.location, run_key))
        try:
            found = fs.find(path)
        except FileNotFoundError:
            return []
        out = []
        base = fs._strip_protocol(path).rstrip("/") + "/"
        for item in sorted(found):
            if not item.endswith("/" + DATA_FILE):
                continue
            rel = item[len(base) : -len("/" + DATA_FILE)]
            if not rel:
                continue
            record = self.read(f"{run_key}/{rel}")
            if record and record.get("kind") == "FileOutput" and record.get("path"):
                source = record.get("source")
                out.append((_fs.strip_file_scheme(str(record["path"])), lid_key(source) if source else None))
        return out


def params_of(workflow_run: dict[str, Any]) -> dict[str, Any]:
    """The pipeline params of a ``WorkflowRun`` as a plain dict."""
    out: dict[str, Any] = {}
    for param in workflow_run.get("params") or []:
        if isinstance(param, dict) and param.get("name"):
            out[str(param["name"])] = param.get("value")
    return out
