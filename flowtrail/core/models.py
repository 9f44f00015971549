"""Every registry model, imported together so SQLAlchemy can resolve relations by name."""

from __future__ import annotations

from .annotations import artifact_feature_value, artifact_label, artifact_project
from .artifact import Artifact
from .collection import Collection, collection_artifact
from .environment import Environment
from .feature import Feature
from .label import Label, label_parent
from .lineage_event import LineageEvent
from .project import Project
from .record import Record
from .run import Run, run_input, run_output
from .schema import Schema, schema_component, schema_feature
from .settings import Setting
from .storage import Storage
from .transform import Transform

__all__ = [
    "Artifact", "Collection", "Environment", "Feature", "Label", "LineageEvent", "Project", "Record", "Run",
    "Schema", "Setting", "Storage", "Transform", "artifact_feature_value", "artifact_label", "artifact_project",
    "collection_artifact", "label_parent", "run_input", "run_output", "schema_component", "schema_feature",
]  # fmt: skip
