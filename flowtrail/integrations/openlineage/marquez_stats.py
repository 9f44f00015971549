"""The dashboard's counters (``/api/v1/stats/*``): runs started and ended, jobs and datasets first
seen, per hour over the last day or per day over the last week.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, case, func, select

from flowtrail.core.models import Artifact, Run, Transform
from flowtrail.integrations.openlineage import marquez_models as m


def intervals(period: str, timezone: str) -> list[tuple[dt.datetime, dt.datetime]]:
    """24 hours ending with the current one (DAY), or 7 days ending with today in ``timezone`` (WEEK)."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"Unknown timezone {timezone!r}: use an IANA name such as UTC or Europe/Berlin.") from None
    now = dt.datetime.now(zone)
    if period == "DAY":
        top = now.replace(minute=0, second=0, microsecond=0)
        starts = [top - dt.timedelta(hours=n) for n in range(23, -1, -1)]
        step = dt.timedelta(hours=1)
    else:
        top = now.replace(hour=0, minute=0, second=0, microsecond=0)
        starts = [top - dt.timedelta(days=n) for n in range(6, -1, -1)]
        step = dt.timedelta(days=1)
    return [(start.astimezone(dt.UTC), (start + step).astimezone(dt.UTC)) for start in starts]


def _bounds(session: Any, start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    # SQLite keeps naive UTC times; PostgreSQL compares instants.
    if session.get_bind().dialect.name == "sqlite":
        return start.replace(tzinfo=None), end.replace(tzinfo=None)
    return start, end


def run_counts(session: Any, period: str, timezone: str) -> list[m.LineageMetric]:
    """Runs started, and runs ended completed, failed or aborted, per interval."""
    metrics = []
    for start, end in intervals(period, timezone):
        low, high = _bounds(session, start, end)
        started = and_(Run.started_at >= low, Run.started_at < high)
        ended = and_(Run.finished_at >= low, Run.finished_at < high)

        def count(condition: Any) -> Any:
            return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

        row = session.execute(select(
            count(started),
            count(and_(ended, Run.status.in_(("completed", "cached")))),
            count(and_(ended, Run.status == "failed")),
            count(and_(ended, Run.status == "aborted")),
        ).where((Run.started_at >= low) | (Run.finished_at >= low))).one()  # fmt: skip
        metrics.append(m.LineageMetric(startInterval=start.isoformat(), endInterval=end.isoformat(),
                                       start=row[0], complete=row[1], fail=row[2], abort=row[3]))  # fmt: skip
    return metrics


def _created(session: Any, column: Any, where: Any, period: str, timezone: str) -> list[m.IntervalMetric]:
    metrics = []
    for start, end in intervals(period, timezone):
        low, high = _bounds(session, start, end)
        count = session.scalar(select(func.count()).where(where, column >= low, column < high)) or 0
        metrics.append(m.IntervalMetric(startInterval=start.isoformat(), endInterval=end.isoformat(), count=count))
    return metrics


def job_counts(session: Any, period: str, timezone: str) -> list[m.IntervalMetric]:
    """Jobs (transforms) first registered per interval."""
    return _created(session, Transform.created_at, Transform.version == 1, period, timezone)


def dataset_counts(session: Any, period: str, timezone: str) -> list[m.IntervalMetric]:
    """Datasets (keys) whose first version was registered per interval."""
    return _created(session, Artifact.created_at, Artifact.version == 1, period, timezone)
