"""Every registry model, imported together so SQLAlchemy can resolve relations by name."""

from __future__ import annotations

from flowtrail.core.models.artifact import Artifact
from flowtrail.core.models.collection import Collection, collection_artifact
from flowtrail.core.models.environment import Environment
from flowtrail.core.models.feature import Feature
from flowtrail.core.models.label import Label, label_parent
from flowtrail.core.models.lineage_event import LineageEvent
from flowtrail.core.models.links import artifact_feature_value, artifact_label, artifact_project
from flowtrail.core.models.project import Project
from flowtrail.core.models.record import Record
from flowtrail.core.models.run import Run, run_input, run_output
from flowtrail.core.models.schema import Schema, schema_component, schema_feature
from flowtrail.core.models.setting import Setting
from flowtrail.core.models.storage import Storage
from flowtrail.core.models.transform import Transform

__all__ = [
    "Artifact", "Collection", "Environment", "Feature", "Label", "LineageEvent", "Project", "Record", "Run",
    "Schema", "Setting", "Storage", "Transform", "artifact_feature_value", "artifact_label", "artifact_project",
    "collection_artifact", "label_parent", "run_input", "run_output", "schema_component", "schema_feature",
]  # fmt: skip
