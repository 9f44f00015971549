"""Schema: which features a dataset must (and may) have, for curation.

``Schema(features=[...], minimal_set=True, maximal_set=False)`` describes a DataFrame's columns.
``Schema(itype=gene_type, dtype=int)`` describes columns identified by labels of a type (e.g. the
genes of an AnnData's ``var``). ``Schema(otype="AnnData", components={"obs": ..., "var": ...})``
composes them. Saving an identical schema returns the existing record (schemas are found by hash).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flowtrail.core.models.record import Record, utcnow

if TYPE_CHECKING:
    from flowtrail.core.models.feature import Feature
    from flowtrail.core.models.label import Label

schema_feature = Table(
    "schema_feature",
    Record.metadata,
    Column("schema_id", Integer, ForeignKey("schema.id", ondelete="CASCADE"), primary_key=True),
    Column("feature_id", Integer, ForeignKey("feature.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, nullable=False),
    Index("ix_schema_feature_feature", "feature_id"),
)

schema_component = Table(
    "schema_component",
    Record.metadata,
    Column("schema_id", Integer, ForeignKey("schema.id", ondelete="CASCADE"), primary_key=True),
    Column("slot", String(64), primary_key=True),
    Column("component_id", Integer, ForeignKey("schema.id", ondelete="RESTRICT"), nullable=False),
)


class Schema(Record):
    """The features a dataset is validated against."""

    __tablename__ = "schema"
    _search_fields = ("name", "description", "uid")

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str | None] = mapped_column(String(255), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    otype: Mapped[str | None] = mapped_column(String(64))  # "DataFrame", "AnnData"
    itype: Mapped[str] = mapped_column(String(255), default="Feature")  # or "Label[Gene]"
    itype_label_id: Mapped[int | None] = mapped_column(ForeignKey("label.id", ondelete="RESTRICT"))
    dtype: Mapped[str | None] = mapped_column(String(255))  # of every column, for itype schemas
    minimal_set: Mapped[bool] = mapped_column(Boolean, default=True)
    maximal_set: Mapped[bool] = mapped_column(Boolean, default=False)
    ordered_set: Mapped[bool] = mapped_column(Boolean, default=False)
    coerce_dtype: Mapped[bool] = mapped_column(Boolean, default=False)
    n_features: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(256))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("run.id", ondelete="SET NULL"))

    itype_label: Mapped[Label | None] = relationship()
    members: Mapped[list[Feature]] = relationship(
        secondary=schema_feature, viewonly=True, order_by=schema_feature.c.position
    )

    def __init__(
        self,
        features: list[Feature] | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        otype: str | None = None,
        itype: Label | None = None,
        dtype: Any = None,
        components: dict[str, Schema] | None = None,
        minimal_set: bool = True,
        maximal_set: bool = False,
        ordered_set: bool = False,
        coerce_dtype: bool = False,
    ) -> None:
        from flowtrail.core.annotations.schemas import prepare_schema

        super().__init__(
            name=name, description=description, otype=otype, minimal_set=minimal_set,
            maximal_set=maximal_set, ordered_set=ordered_set, coerce_dtype=coerce_dtype,
        )  # fmt: skip
        prepare_schema(self, features, itype, dtype, components)

    def save(self) -> Schema:
        """Register the schema (and its components); return the existing one with the same definition."""
        from flowtrail.core.annotations.schemas import save_schema

        return save_schema(self)

    @property
    def features(self) -> list[Feature]:
        """The schema's features in order (empty for itype schemas)."""
        pending = getattr(self, "_features", None)
        return list(pending) if pending is not None and self.id is None else list(self.members)

    @property
    def components(self) -> dict[str, Schema]:
        """Slot name -> component schema (``{"obs": ..., "var": ...}`` for AnnData)."""
        pending = getattr(self, "_components", None)
        if pending is not None and self.id is None:
            return dict(pending)
        from flowtrail.core.annotations.schemas import load_components

        return load_components(self)

    def describe(self) -> None:
        from flowtrail.core.describe.records import describe_schema

        describe_schema(self)

    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [("name", self.name), ("otype", self.otype), ("itype", self.itype), ("n_features", self.n_features), ("uid", self.uid)]
