"""The Snakemake recorder's journal: the workflow's events, kept when the registry cannot take them.

The recorder keeps the events of the invocation. If the registry becomes unusable for a reason
that passes (down, read-only, full, locked, hung: a :class:`~flowtrail.core.errors.RegistryError`),
every event so far and every later one go to a journal file (see :mod:`flowtrail.core.runs.journal`),
and the workflow carries on. ``flowtrail sync`` then replays the whole invocation through a fresh
recorder, after removing what the registry took before the outage (the workflow run, its job
runs and the artifacts they registered), so the result is the one an undisturbed run records:
the same runs, statuses, inputs and outputs. Files are hashed at replay, so a file changed in
between is recorded as it is then. Journaled: every event of the invocation and how it ended.
Not journaled: OpenLineage events are emitted at replay, not at the time.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from flowtrail.core import adapter
from flowtrail.integrations.snakemake import events as ev

if TYPE_CHECKING:
    from flowtrail.core.adapter import Instance, JournalWriter
    from flowtrail.integrations.snakemake.options import Options

REPLAYER = "flowtrail.integrations.snakemake.journaling:replay"


def open_journal(options: Options, info: dict[str, Any], cwd: str | None) -> JournalWriter | None:
    """A journal writer for this instance (found without the database), or None without an instance."""
    try:
        config = adapter.find_config(options.instance, [cwd, info.get("cwd"), info.get("basedir")])
    except Exception:  # no instance to journal for: nothing could be synced anyway
        return None
    header = {"options": dataclasses.asdict(options)}
    return adapter.JournalWriter(config, "snakemake", REPLAYER, header, announce=False)


def event_entry(event: ev.Event) -> dict[str, Any]:
    return {"op": "event", "event": dataclasses.asdict(event)}


def replay(instance: Instance, header: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    """Record a journaled Snakemake invocation as an undisturbed run would have."""
    from flowtrail.core.errors import RegistryUnavailable
    from flowtrail.integrations.snakemake.options import Options
    from flowtrail.integrations.snakemake.recorder import Recorder

    events = [ev.Event(**entry["event"]) for entry in entries if entry.get("op") == "event"]
    ending = next((entry for entry in entries if entry.get("op") == "finish"), None)
    started = next((e for e in events if e.kind == ev.WORKFLOW_STARTED), None)
    workflow_id = started.data.get("workflow_id") if started is not None else None
    if workflow_id:
        adapter.discard_run_tree(instance, str(workflow_id))
    options = Options(**header["options"])
    recorder = Recorder(options, instance=instance, journal=False)
    for event in events:
        recorder.handle(event)
    recorder.finish(lost=ending is None or bool(ending.get("lost")))
    if recorder.disabled:
        raise RegistryUnavailable("the registry failed again while replaying; the journal is kept for the next sync")
