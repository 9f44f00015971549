"""Nextflow's trace file: one row per finished (or cached) task, flushed as tasks end.

The runner enables its own trace (``-with-trace FILE`` plus a config setting :data:`FIELDS`,
``raw = true`` and ``overwrite = true``): the default fields lack ``process``, ``tag``,
``workdir``, ``start`` and ``complete``, which the adapter needs, and raw values are exact
(bytes, milliseconds, epoch milliseconds). For ``flowtrail nextflow import`` the trace may be
the user's own, with any fields and formatted values ("1.2 MB", "3m 4s", "2024-01-02
10:11:12.345"); :func:`parse_value` reads both.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from flowtrail.integrations.nextflow import _fs

FIELDS = (
    "task_id,hash,native_id,name,process,tag,status,exit,attempt,submit,start,complete,duration,"
    "realtime,%cpu,%mem,peak_rss,peak_vmem,rss,vmem,rchar,wchar,syscr,syscw,read_bytes,write_bytes,"
    "cpus,memory,time,disk,workdir,hostname,container,error_action"
)
_TIMES = ("submit", "start", "complete")
_DURATIONS = ("duration", "realtime", "time")
_SIZES = ("peak_rss", "peak_vmem", "rss", "vmem", "rchar", "wchar", "read_bytes", "write_bytes", "memory", "disk")
_COUNTS = ("task_id", "exit", "attempt", "syscr", "syscw", "cpus")
_PERCENT = ("%cpu", "%mem")
_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4, "PB": 1024**5}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|d|h|m|s)")
# The names the metrics get in the registry (JSON-friendly, units in the name).
METRIC_NAMES = {
    "task_id": "task_id", "native_id": "native_id", "exit": "exit_code", "attempt": "attempt",
    "duration": "duration_ms", "realtime": "realtime_ms", "time": "time_limit_ms",
    "%cpu": "cpu_percent", "%mem": "mem_percent", "peak_rss": "peak_rss_bytes",
    "peak_vmem": "peak_vmem_bytes", "rss": "rss_bytes", "vmem": "vmem_bytes", "rchar": "rchar_bytes",
    "wchar": "wchar_bytes", "syscr": "syscr", "syscw": "syscw", "read_bytes": "read_bytes",
    "write_bytes": "write_bytes", "cpus": "cpus", "memory": "memory_bytes", "disk": "disk_bytes",
    "hostname": "hostname", "container": "container", "error_action": "error_action",
    "submit": "submitted_at", "start": "started_at", "complete": "completed_at", "status": "nextflow_status",
}  # fmt: skip


def trace_config(path: str) -> str:
    """The config snippet the runner passes with ``-c``: our fields, raw values, overwrite."""
    quoted = path.replace("\\", "\\\\").replace("'", "\\'")
    return (
        "// written by flowtrail nextflow run: the trace fields flowtrail registers tasks from\n"
        "trace {\n"
        "    enabled = true\n"
        f"    file = '{quoted}'\n"
        f"    fields = '{FIELDS}'\n"
        "    raw = true\n"
        "    overwrite = true\n"
        "    sep = '\\t'\n"
        "}\n"
    )


def _parse_time(value: str) -> dt.datetime | None:
    if value.isdigit():  # raw: epoch milliseconds
        return dt.datetime.fromtimestamp(int(value) / 1000, dt.UTC)
    for fmt in ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"):
        try:  # formatted: the JVM's local time
            return dt.datetime.strptime(value, fmt).astimezone().astimezone(dt.UTC)
        except ValueError:
            continue
    return None


def _parse_duration_ms(value: str) -> int | None:
    if re.fullmatch(r"\d+", value):
        return int(value)
    parts = _DURATION_PART.findall(value)
    if not parts:
        return None
    factor = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
    return round(sum(float(n) * factor[u] for n, u in parts))


def _parse_size(value: str) -> int | None:
    if re.fullmatch(r"\d+", value):
        return int(value)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGTP]?B)", value.strip())
    if not match:
        return None
    return round(float(match.group(1)) * _UNITS[match.group(2)])


def parse_value(name: str, value: str) -> Any:
    """A trace value as a Python value; ``-`` (missing) and unparseable values become None."""
    value = value.strip()
    if value in ("-", ""):
        return None
    if name in _TIMES:
        return _parse_time(value)
    if name in _DURATIONS:
        return _parse_duration_ms(value)
    if name in _SIZES:
        return _parse_size(value)
    if name in _PERCENT:
        try:
            return float(value.rstrip("%"))
        except ValueError:
            return None
    if name in _COUNTS:
        try:
            return int(value)
        except ValueError:
            return None
    return value


@dataclass
class TraceRecord:
    """One parsed trace row."""

    values: dict[str, Any]

    def get(self, name: str) -> Any:
        return self.values.get(name)

    @property
    def short_hash(self) -> str | None:
        return self.values.get("hash")

    @property
    def status(self) -> str | None:
        return self.values.get("status")

    @property
    def workdir(self) -> str | None:
        return self.values.get("workdir")

    @property
    def process(self) -> str | None:
        process = self.values.get("process")
        if process:
            return process
        name = self.values.get("name") or ""
        return name.split(" (", 1)[0] or None

    def metrics(self) -> dict[str, Any]:
        """The row as registry metrics: exit code, times, resources (bytes, ms, percent)."""
        out: dict[str, Any] = {}
        for name, value in self.values.items():
            key = METRIC_NAMES.get(name)
            if key is None or value is None:
                continue
            out[key] = value.isoformat() if isinstance(value, dt.datetime) else value
        return out


class TraceReader:
    """Reads a trace file incrementally: each :meth:`read` returns the rows added since the last.

    Only complete lines are consumed, so a row being written is picked up by the next read.
    """

    def __init__(self, location: str) -> None:
        self.location = location
        self.fields: list[str] | None = None
        self._offset = 0
        self._buffer = b""

    def read(self) -> list[TraceRecord]:
        fs, path = _fs.filesystem_for(self.location)
        try:
            with fs.open(path, "rb") as handle:
                size = handle.seek(0, 2)
                if size < self._offset:  # overwritten by a new run: start over
                    self._offset, self._buffer, self.fields = 0, b"", None
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        data = self._buffer + data
        lines = data.split(b"\n")
        self._buffer = lines.pop()  # an incomplete last line, or b""
        records = []
        for raw in lines:
            line = raw.decode("utf-8", errors="replace").rstrip("\r")
            if not line:
                continue
            cells = line.split("\t")
            if self.fields is None:
                self.fields = cells
                continue
            records.append(self._record(cells))
        return records

    def read_all(self) -> list[TraceRecord]:
        """Everything not read yet, including a last row without a trailing newline."""
        records = self.read()
        tail, self._buffer = self._buffer, b""
        line = tail.decode("utf-8", errors="replace").strip("\r\n")
        if line and self.fields is not None:
            records.append(self._record(line.split("\t")))
        return records

    def _record(self, cells: list[str]) -> TraceRecord:
        assert self.fields is not None
        return TraceRecord(
            {name: parse_value(name, cells[i]) if i < len(cells) else None for i, name in enumerate(self.fields)}
        )


def read_header(location: str) -> list[str] | None:
    """The field names of a trace file, or None when it is missing or empty."""
    fs, path = _fs.filesystem_for(location)
    try:
        with fs.open(path, "rb") as handle:
            first = handle.readline()
    except (FileNotFoundError, IsADirectoryError):
        return None
    line = first.decode("utf-8", errors="replace").rstrip("\r\n")
    return line.split("\t") if line else None
