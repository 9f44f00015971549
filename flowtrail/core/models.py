"""Every registry model, imported together so SQLAlchemy can resolve relations by name."""

from __future__ import annotations

from .artifact import Artifact
from .environment import Environment
from .lineage_event import LineageEvent
from .record import Record
from .run import Run, run_input
from .settings import Setting
from .storage import Storage
from .transform import Transform

__all__ = ["Artifact", "Environment", "LineageEvent", "Record", "Run", "Setting", "Storage", "Transform", "run_input"]
