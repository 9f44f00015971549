"""The append-only log of every OpenLineage event the instance received, exactly as received."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from flowtrail.core.models.record import JSONType, Record, utcnow


class LineageEvent(Record):
    """One received OpenLineage event (RunEvent, DatasetEvent or JobEvent)."""

    __tablename__ = "lineage_event"
    _search_fields = ("job_name", "run_uid", "event_type")
    _dataframe_hidden = ("payload",)

    id: Mapped[int] = mapped_column(primary_key=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the canonical JSON
    kind: Mapped[str] = mapped_column(String(16))  # run, dataset or job
    event_type: Mapped[str | None] = mapped_column(String(16))
    event_time: Mapped[dt.datetime | None] = mapped_column(index=True)
    run_uid: Mapped[str | None] = mapped_column(String(64), index=True)
    job_namespace: Mapped[str | None] = mapped_column(String(1024))
    job_name: Mapped[str | None] = mapped_column(String(1024))
    payload: Mapped[Any] = mapped_column(JSONType())
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)

    @property
    def uid(self) -> str:
        return self.hash[:16]
