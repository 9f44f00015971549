"""Every registry model, imported together so SQLAlchemy can resolve relations by name."""

from __future__ import annotations

from flowtrail.core.annotations import artifact_feature_value, artifact_label, artifact_project
from flowtrail.core.artifact import Artifact
from flowtrail.core.collection import Collection, collection_artifact
from flowtrail.core.environment import Environment
from flowtrail.core.feature import Feature
from flowtrail.core.label import Label, label_parent
from flowtrail.core.lineage_event import LineageEvent
from flowtrail.core.project import Project
from flowtrail.core.record import Record
from flowtrail.core.run import Run, run_input, run_output
from flowtrail.core.schema import Schema, schema_component, schema_feature
from flowtrail.core.settings import Setting
from flowtrail.core.storage import Storage
from flowtrail.core.transform import Transform

__all__ = [
    "Artifact", "Collection", "Environment", "Feature", "Label", "LineageEvent", "Project", "Record", "Run",
    "Schema", "Setting", "Storage", "Transform", "artifact_feature_value", "artifact_label", "artifact_project",
    "collection_artifact", "label_parent", "run_input", "run_output", "schema_component", "schema_feature",
]  # fmt: skip
