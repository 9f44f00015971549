"""Folding all events of one run into its current state, independent of arrival order.

Events of a run accumulate: inputs usually come with START, outputs with COMPLETE. Terminal
events (COMPLETE, FAIL, ABORT) win over START and RUNNING whatever order they arrive in; among
several terminal events the latest event time wins (ties broken by type, then content). Facets
merge in event-time order, later values replacing earlier ones per facet name. The fold is a pure
function of the *set* of events, so replays and shuffles give the same state.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from flowtrail.integrations.openlineage.validation import TERMINAL, parse_time

STATUS = {"COMPLETE": "completed", "FAIL": "failed", "ABORT": "aborted"}
_RANK = {"OTHER": 0, "START": 1, "RUNNING": 2, "COMPLETE": 3, "ABORT": 4, "FAIL": 5}


@dataclass
class DatasetRef:
    namespace: str
    name: str
    facets: dict[str, Any] = field(default_factory=dict)
    side_facets: dict[str, Any] = field(default_factory=dict)  # inputFacets / outputFacets


@dataclass
class RunState:
    run_id: str
    job_namespace: str
    job_name: str
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    run_facets: dict[str, Any]
    job_facets: dict[str, Any]
    inputs: list[DatasetRef]
    outputs: list[DatasetRef]

    @property
    def parent(self) -> dict[str, Any] | None:
        parent = self.run_facets.get("parent")
        return parent if isinstance(parent, dict) and not parent.get("_deleted") else None


def _order(item: tuple[str, dict[str, Any]]) -> tuple[dt.datetime, int, str]:
    digest, event = item
    return parse_time(event["eventTime"]), _RANK.get(event.get("eventType") or "OTHER", 0), digest


def _merge(target: dict[str, Any], facets: Any) -> None:
    if isinstance(facets, dict):
        for name, value in facets.items():
            if isinstance(value, dict) and value.get("_deleted") is True:
                target.pop(name, None)
            else:
                target[name] = value


def _collect(refs: dict[tuple[str, str], DatasetRef], datasets: Any, side_key: str) -> None:
    for dataset in datasets or []:
        key = (dataset["namespace"], dataset["name"])
        ref = refs.get(key)
        if ref is None:
            ref = refs[key] = DatasetRef(*key)
        _merge(ref.facets, dataset.get("facets"))
        _merge(ref.side_facets, dataset.get(side_key))


def fold_run(events: list[tuple[str, dict[str, Any]]]) -> RunState:
    """The state of one run from its ``(hash, event)`` pairs (at least one)."""
    ordered = sorted(events, key=_order)
    run_facets: dict[str, Any] = {}
    job_facets: dict[str, Any] = {}
    inputs: dict[tuple[str, str], DatasetRef] = {}
    outputs: dict[tuple[str, str], DatasetRef] = {}
    for _digest, event in ordered:
        _merge(run_facets, event["run"].get("facets"))
        _merge(job_facets, event["job"].get("facets"))
        _collect(inputs, event.get("inputs"), "inputFacets")
        _collect(outputs, event.get("outputs"), "outputFacets")
    terminal = [e for _d, e in ordered if e.get("eventType") in TERMINAL]
    starts = [e for _d, e in ordered if e.get("eventType") == "START"]
    first = starts[0] if starts else ordered[0][1]
    last = ordered[-1][1]
    if terminal:
        status = STATUS[terminal[-1]["eventType"]]
        finished_at: dt.datetime | None = parse_time(terminal[-1]["eventTime"])
    else:
        status = "started" if any(e.get("eventType") in ("START", "RUNNING") for _d, e in ordered) else "scheduled"
        finished_at = None
    return RunState(
        run_id=last["run"]["runId"],
        job_namespace=last["job"]["namespace"],
        job_name=last["job"]["name"],
        status=status,
        started_at=parse_time(first["eventTime"]),
        finished_at=finished_at,
        run_facets=run_facets,
        job_facets=job_facets,
        inputs=sorted(inputs.values(), key=lambda r: (r.namespace, r.name)),
        outputs=sorted(outputs.values(), key=lambda r: (r.namespace, r.name)),
    )
