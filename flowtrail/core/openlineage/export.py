"""Replaying the registry as OpenLineage events, to backfill Marquez or any other consumer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING

from openlineage.client.serde import Serde

from flowtrail.core.models.run import Run
from flowtrail.core.openlineage.emitter import namespace_of
from flowtrail.core.openlineage.events import events_for

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance

BATCH = 200


def export_lines(instance: Instance, since: dt.datetime | None = None) -> Iterator[str]:
    """One JSON line per event: START and the terminal event of every run, oldest run first."""
    namespace = namespace_of(instance)
    query = Run.objects(instance).order_by("started_at")
    if since is not None:
        query = query.filter(started_at__gte=since if since.tzinfo else since.replace(tzinfo=dt.UTC))
    offset = 0
    while True:
        runs = query[offset : offset + BATCH].to_list()
        if not runs:
            return
        for run in runs:
            for event in events_for(run, namespace):
                yield Serde.to_json(event)
        instance.sessions.end_read()
        offset += BATCH


def count_runs(instance: Instance, since: dt.datetime | None = None) -> int:
    query = Run.objects(instance)
    if since is not None:
        query = query.filter(started_at__gte=since if since.tzinfo else since.replace(tzinfo=dt.UTC))
    return query.count()
