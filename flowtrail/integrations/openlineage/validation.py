"""Checking incoming OpenLineage events: strict on structure, lenient on formats.

Real producers send naive timestamps, missing ``schemaURL``s, odd ``dataSource.uri`` values,
custom facets and facet versions nobody published: all accepted. What is rejected is what would
corrupt the registry or what a well-known facet's own schema forbids: a run id that is not a UUID,
a job or dataset without a name, an event time without a time of day, an ownership facet whose
owners have no name, and so on. Every problem names the field and says why.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flowtrail.core.errors import FlowtrailError

EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
TERMINAL = ("COMPLETE", "ABORT", "FAIL")
_FRACTION = re.compile(r"(\.\d{6})\d+")


@dataclass(frozen=True)
class Problem:
    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


class InvalidEvent(FlowtrailError):
    """An OpenLineage event that cannot be stored; ``problems`` lists every field and why."""

    def __init__(self, problems: list[Problem], index: int | None = None) -> None:
        self.problems = problems
        self.index = index
        where = f"event {index}: " if index is not None else ""
        details = "; ".join(f"{p.field}: {p.reason}" for p in problems)
        super().__init__(f"{where}{details}")


def parse_time(value: Any) -> dt.datetime:
    """An ISO 8601 date-time (naive means UTC; nanoseconds are cut to microseconds)."""
    if not isinstance(value, str):
        raise ValueError(f"must be an ISO 8601 date-time string, got {type(value).__name__}")
    return _parse_text(value)


@lru_cache(maxsize=8192)  # validation, the event log and the fold all parse the same times
def _parse_text(value: str) -> dt.datetime:
    text = value.strip()
    if "T" not in text and " " not in text:
        raise ValueError(f"{value!r} has no time of day; send e.g. {text}T00:00:00Z")
    text = _FRACTION.sub(r"\1", text.replace("Z", "+00:00").replace("z", "+00:00"))
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO 8601 date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def event_kind(event: dict[str, Any]) -> str:
    """``run``, ``dataset`` or ``job``: by the schemaURL's definition, else by the event's shape."""
    url = event.get("schemaURL")
    if isinstance(url, str):
        for suffix, kind in (("/RunEvent", "run"), ("/DatasetEvent", "dataset"), ("/JobEvent", "job")):
            if url.endswith(suffix):
                return kind
    if "dataset" in event and "run" not in event:
        return "dataset"
    if "run" in event or "eventType" in event:
        return "run"
    return "job"


class _Checker:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, field: str, reason: str) -> None:
        self.problems.append(Problem(field, reason))

    def obj(self, value: Any, field: str) -> bool:
        if not isinstance(value, dict):
            self.fail(field, f"must be a JSON object, got {_kind(value)}")
            return False
        return True

    def text(self, value: Any, field: str) -> bool:
        if not isinstance(value, str) or not value.strip():
            self.fail(field, f"must be a non-empty string, got {_kind(value)}")
            return False
        return True

    def uuid(self, value: Any, field: str) -> None:
        if isinstance(value, str) and _is_uuid(value):
            return
        self.fail(field, f"must be a UUID such as 0190e0a5-3c4f-7b2e-8d7e-2f1c0a9b8c7d, got {_kind(value)}")

    def time(self, value: Any, field: str) -> None:
        try:
            parse_time(value)
        except ValueError as exc:
            self.fail(field, str(exc))

    def named(self, value: Any, field: str) -> None:
        if self.obj(value, field):
            for part in ("namespace", "name"):
                text = value.get(part)
                if not (isinstance(text, str) and text.strip()):  # the field path only when reported
                    self.text(text, f"{field}.{part}")


@lru_cache(maxsize=4096)  # a parent's run id comes with every child's events
def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}"


# -- rules for facets whose schema we know; any other facet is kept as it is -------------------
def _parent(c: _Checker, facet: dict[str, Any], field: str) -> None:
    if c.obj(facet.get("run"), f"{field}.run"):
        c.uuid(facet["run"].get("runId"), f"{field}.run.runId")
    if c.obj(facet.get("job"), f"{field}.job"):
        c.text(facet["job"].get("namespace"), f"{field}.job.namespace")
        c.text(facet["job"].get("name"), f"{field}.job.name")
    root = facet.get("root")
    if root is not None and c.obj(root, f"{field}.root"):
        if c.obj(root.get("run"), f"{field}.root.run"):
            c.uuid(root["run"].get("runId"), f"{field}.root.run.runId")
        c.named(root.get("job"), f"{field}.root.job")


def _ownership(c: _Checker, facet: dict[str, Any], field: str) -> None:
    owners = facet.get("owners", [])
    if not isinstance(owners, list):
        c.fail(f"{field}.owners", f"must be a list, got {_kind(owners)}")
        return
    for i, owner in enumerate(owners):
        if c.obj(owner, f"{field}.owners[{i}]"):
            c.text(owner.get("name"), f"{field}.owners[{i}].name")


def _schema_fields(c: _Checker, fields: Any, field: str) -> None:
    if not isinstance(fields, list):
        c.fail(field, f"must be a list, got {_kind(fields)}")
        return
    for i, item in enumerate(fields):
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str) and name.strip() and "fields" not in item:
            continue  # the usual column: nothing to report, no field path to build
        if c.obj(item, f"{field}[{i}]"):
            c.text(name, f"{field}[{i}].name")
            if "fields" in item:
                _schema_fields(c, item["fields"], f"{field}[{i}].fields")


def _integers(*names: str) -> Callable[[_Checker, dict[str, Any], str], None]:
    def check(c: _Checker, facet: dict[str, Any], field: str) -> None:
        for name in names:
            value = facet.get(name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                c.fail(f"{field}.{name}", f"must be an integer, got {_kind(value)}")

    return check


def _quality_metrics(c: _Checker, facet: dict[str, Any], field: str) -> None:
    # The schema requires columnMetrics; older producers (and Marquez's fixtures) send only
    # rowCount. Accept either, reject a facet that has neither.
    if "columnMetrics" in facet:
        c.obj(facet["columnMetrics"], f"{field}.columnMetrics")
    elif "rowCount" not in facet:
        c.fail(f"{field}.columnMetrics", "is required (or at least rowCount): the facet carries no metric")
    _integers("rowCount", "bytes", "fileCount")(c, facet, field)


def _error_message(c: _Checker, facet: dict[str, Any], field: str) -> None:
    c.text(facet.get("message"), f"{field}.message")
    c.text(facet.get("programmingLanguage"), f"{field}.programmingLanguage")


def _nominal_time(c: _Checker, facet: dict[str, Any], field: str) -> None:
    # Producers send dates without times here (the python client's own fixtures do): keep them.
    c.text(facet.get("nominalStartTime"), f"{field}.nominalStartTime")


RULES: dict[tuple[str, str], Callable[[_Checker, dict[str, Any], str], None]] = {
    ("run", "parent"): _parent,
    ("run", "errorMessage"): _error_message,
    ("run", "nominalTime"): _nominal_time,
    ("job", "ownership"): _ownership,
    ("dataset", "ownership"): _ownership,
    ("dataset", "schema"): lambda c, f, field: _schema_fields(c, f.get("fields", []), f"{field}.fields"),
    ("input", "dataQualityMetrics"): _quality_metrics,
    ("output", "outputStatistics"): _integers("rowCount", "size", "fileCount"),
}


def _check_facets(c: _Checker, facets: Any, where: str, field: str) -> None:
    if facets is None:
        return
    if not c.obj(facets, field):
        return
    for name, facet in facets.items():
        if not isinstance(facet, dict):
            c.fail(f"{field}.{name}", f"a facet must be a JSON object, got {_kind(facet)}")
            continue
        if facet.get("_deleted") is True:
            continue
        rule = RULES.get((where, name))
        if rule is not None:
            rule(c, facet, f"{field}.{name}")


def _check_dataset(c: _Checker, dataset: Any, field: str, side: str | None) -> None:
    c.named(dataset, field)
    if isinstance(dataset, dict):
        for key, where in (("facets", "dataset"), ("inputFacets", "input"), ("outputFacets", "output")):
            if (where == "dataset" or where == side) and dataset.get(key) is not None:
                _check_facets(c, dataset[key], where, f"{field}.{key}")


def _datasets(c: _Checker, value: Any, field: str) -> Iterator[tuple[int, Any]]:
    if value is None:
        return
    if not isinstance(value, list):
        c.fail(field, f"must be a list of datasets, got {_kind(value)}")
        return
    yield from enumerate(value)


def check_event(event: Any, index: int | None = None) -> str:
    """Return the event's kind, or raise :class:`InvalidEvent` listing every problem."""
    c = _Checker()
    if not isinstance(event, dict):
        raise InvalidEvent([Problem("(event)", f"must be a JSON object, got {_kind(event)}")], index)
    kind = event_kind(event)
    c.time(event.get("eventTime"), "eventTime")
    if "producer" in event and not isinstance(event["producer"], str):
        c.fail("producer", f"must be a string (a URI), got {_kind(event['producer'])}")
    if kind == "run":
        event_type = event.get("eventType")
        if event_type is not None and event_type not in EVENT_TYPES:
            c.fail("eventType", f"must be one of {', '.join(EVENT_TYPES)}, got {_kind(event_type)}")
        if c.obj(event.get("run"), "run"):
            c.uuid(event["run"].get("runId"), "run.runId")
            _check_facets(c, event["run"].get("facets"), "run", "run.facets")
    if kind in ("run", "job"):
        c.named(event.get("job"), "job")
        if isinstance(event.get("job"), dict):
            _check_facets(c, event["job"].get("facets"), "job", "job.facets")
        for side, key in (("input", "inputs"), ("output", "outputs")):
            for i, dataset in _datasets(c, event.get(key), key):
                _check_dataset(c, dataset, f"{key}[{i}]", side)
    if kind == "dataset":
        _check_dataset(c, event.get("dataset"), "dataset", None)
    if c.problems:
        raise InvalidEvent(c.problems, index)
    return kind
