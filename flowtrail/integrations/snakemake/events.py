"""Copying what the adapter needs out of Snakemake's log records, quickly and safely.

``emit()`` runs on Snakemake's logging thread, so :func:`snapshot` does as little as possible:
it picks the payload fields of the events the recorder handles (``extra=`` attributes of the
record), copies mutable containers, converts live objects (``Resources``, ``UUID``) to plain
values, and stamps the event with its time and, for ``job_info``, the working directory (the
``workdir:`` directive changes it after ``workflow_started`` was logged).
"""

import os
from dataclasses import dataclass
from logging import LogRecord
from typing import Any

WORKFLOW_STARTED = "workflow_started"
JOB_INFO = "job_info"
JOB_FINISHED = "job_finished"
JOB_ERROR = "job_error"
GROUP_ERROR = "group_error"
ERROR = "error"
INTERRUPT = "interrupt"  # not a Snakemake event: its "Terminating processes on user request" message
INTERRUPT_MESSAGE = "Terminating processes on user request"

FIELDS: dict[str, tuple[str, ...]] = {
    WORKFLOW_STARTED: (
        "snakemake_version", "platform", "host", "user", "python_version", "cmd", "basedir", "rundir",
        "cwd", "configfiles", "snakefile_main", "workflow_id", "config_md5",
    ),
    JOB_INFO: (
        "jobid", "rule_name", "rule_msg", "local", "input", "output", "log", "benchmark", "wildcards",
        "reason", "resources", "priority", "threads", "is_checkpoint", "shellcmd", "flowtrail_held",
    ),
    JOB_FINISHED: ("job_id", "flowtrail_held"),  # the second: set by .holding.OutputHolder
    JOB_ERROR: ("jobid", "rule_name", "rule_msg", "log", "aux", "conda_env", "container_img"),
    GROUP_ERROR: ("groupid", "job_error_info"),
    ERROR: ("exception",),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Event:
    """One log event, reduced to plain values."""

    kind: str
    time: float  # seconds since the epoch, when Snakemake logged it
    data: dict[str, Any]
    cwd: str | None = None
    message: str | None = None


def snapshot(record: LogRecord) -> Event | None:
    """The event in ``record``, or None for records the recorder does not need."""
    kind = getattr(record, "event", None)
    if kind is None:
        msg = record.msg
        if isinstance(msg, str) and msg.startswith(INTERRUPT_MESSAGE):
            return Event(INTERRUPT, record.created, {})
        return None
    kind = str(getattr(kind, "value", kind))
    names = FIELDS.get(kind)
    if names is None:
        return None
    data = {name: plain(getattr(record, name, None)) for name in names}
    if kind == JOB_INFO:
        return Event(kind, record.created, data, cwd=os.getcwd())
    if kind == ERROR:
        return Event(kind, record.created, data, message=_message(record))
    return Event(kind, record.created, data)


def _message(record: LogRecord) -> str | None:
    try:
        return record.getMessage()
    except Exception:  # a malformed record must not cost the event
        return str(record.msg)


def plain(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` made of plain Python types (``Resources`` and ``Namedlist`` become dicts)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if depth > 6:
        return str(value)
    if isinstance(value, dict):
        return {str(k): plain(v, depth + 1) for k, v in value.items()}
    items = getattr(value, "items", None)
    if callable(items) and hasattr(value, "_names"):  # snakemake.io.Namedlist (Resources, Wildcards)
        try:
            return {str(k): plain(v, depth + 1) for k, v in items()}
        except Exception:
            pass
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v, depth + 1) for v in value]
    return str(value)
