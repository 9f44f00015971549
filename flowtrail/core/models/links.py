"""The link tables that annotate artifacts: feature values, labels and projects.

One row per value keeps queries simple and indexable: ``batch >= 3`` is an indexed range scan
on ``(feature_id, value_num)``. Numbers and booleans live in ``value_num``, strings, dates and
datetimes (ISO 8601, UTC) in ``value_str``, dicts in ``value_json``. Categorical values are label
links in ``artifact_label`` that name the feature they were set through.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, String, Table

from flowtrail.core.models.record import JSONType, Record

# Longer strings belong in a dict feature or the description: value_str is indexed.
MAX_STR_VALUE = 1000

artifact_feature_value = Table(
    "artifact_feature_value",
    Record.metadata,
    Column("id", Integer, primary_key=True),
    Column("artifact_id", Integer, ForeignKey("artifact.id", ondelete="CASCADE"), nullable=False),
    Column("feature_id", Integer, ForeignKey("feature.id", ondelete="CASCADE"), nullable=False),
    Column("value_num", Float),
    Column("value_str", String(MAX_STR_VALUE)),
    Column("value_json", JSONType()),
    Index("ix_artifact_feature_value_artifact", "artifact_id", "feature_id"),
    Index("ix_artifact_feature_value_num", "feature_id", "value_num", "artifact_id"),
    Index("ix_artifact_feature_value_str", "feature_id", "value_str", "artifact_id"),
)

artifact_label = Table(
    "artifact_label",
    Record.metadata,
    Column("id", Integer, primary_key=True),
    Column("artifact_id", Integer, ForeignKey("artifact.id", ondelete="CASCADE"), nullable=False),
    Column("label_id", Integer, ForeignKey("label.id", ondelete="CASCADE"), nullable=False),
    # The categorical feature the label was set through; NULL for labels added directly.
    Column("feature_id", Integer, ForeignKey("feature.id", ondelete="CASCADE")),
    Index("ix_artifact_label_artifact", "artifact_id", "feature_id"),
    Index("ix_artifact_label_label", "label_id", "feature_id", "artifact_id"),
)

artifact_project = Table(
    "artifact_project",
    Record.metadata,
    Column("artifact_id", Integer, ForeignKey("artifact.id", ondelete="CASCADE"), primary_key=True),
    Column("project_id", Integer, ForeignKey("project.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_artifact_project_project", "project_id", "artifact_id"),
)
