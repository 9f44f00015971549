"""Label: a typed, hierarchical vocabulary term (a sample, a cell type, a medium, a gene, ...).

A label with ``is_type=True`` is a *type* (``CellMedium``); labels of that type point to it with
``type``. Labels also form a hierarchy independent of types: ``parents``/``children`` hold
ontology links (``is_a``), several parents allowed. ``ontology_id`` and ``synonyms`` come from an
imported ontology (see :mod:`flowtrail.core.annotations.ontology`) and are used when curating datasets.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flowtrail.core.models.record import Record, utcnow

if TYPE_CHECKING:
    from flowtrail.core.annotations.linked import LinkedQuerySet

SYNONYM_SEPARATOR = "|"

label_parent = Table(
    "label_parent",
    Record.metadata,
    Column("child_id", Integer, ForeignKey("label.id", ondelete="CASCADE"), primary_key=True),
    Column("parent_id", Integer, ForeignKey("label.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_label_parent_parent", "parent_id", "child_id"),
)


class Label(Record):
    """A term of a typed vocabulary: ``Label(name="DMSO", type=cell_medium).save()``.

    ``Label(name="CellMedium", is_type=True).save()`` creates the type itself. Names are unique
    within a type; saving a label that exists returns the existing record.
    """

    __tablename__ = "label"
    __table_args__ = (Index("ix_label_type_name", "type_id", "name"),)
    _search_fields = ("name", "synonyms", "ontology_id", "description", "uid")
    _query_aliases: ClassVar[dict[str, str]] = {"parents": "_parents", "children": "_children"}

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(512), index=True)
    is_type: Mapped[bool] = mapped_column(Boolean, default=False)
    type_id: Mapped[int | None] = mapped_column(ForeignKey("label.id", ondelete="RESTRICT"))
    description: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(1024))
    reference_type: Mapped[str | None] = mapped_column(String(64))
    ontology_id: Mapped[str | None] = mapped_column(String(128), index=True)
    synonyms: Mapped[str | None] = mapped_column(Text)  # "|"-separated, as in OBO exports
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(256))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("run.id", ondelete="SET NULL"))

    type: Mapped[Label | None] = relationship(remote_side="Label.id", back_populates="records")
    records: Mapped[list[Label]] = relationship(back_populates="type", viewonly=True, order_by="Label.id")
    _parents: Mapped[list[Label]] = relationship(
        secondary=label_parent,
        primaryjoin="Label.id == label_parent.c.child_id",
        secondaryjoin="Label.id == label_parent.c.parent_id",
        viewonly=True,
        order_by="Label.id",
    )
    _children: Mapped[list[Label]] = relationship(
        secondary=label_parent,
        primaryjoin="Label.id == label_parent.c.parent_id",
        secondaryjoin="Label.id == label_parent.c.child_id",
        viewonly=True,
        order_by="Label.id",
    )

    def __init__(
        self,
        name: str,
        *,
        type: Label | None = None,  # noqa: A002 - the LaminDB spelling users know
        is_type: bool = False,
        description: str | None = None,
        reference: str | None = None,
        reference_type: str | None = None,
        ontology_id: str | None = None,
        synonyms: list[str] | str | None = None,
    ) -> None:
        from flowtrail.core.annotations.vocabulary import check_label_arguments

        check_label_arguments(name, type, synonyms)
        if isinstance(synonyms, list | tuple):
            synonyms = SYNONYM_SEPARATOR.join(synonyms) or None
        super().__init__(
            name=name, is_type=is_type, description=description, reference=reference,
            reference_type=reference_type, ontology_id=ontology_id, synonyms=synonyms,
        )  # fmt: skip
        self.type = type

    def save(self) -> Label:
        """Register the label; return the existing one if the type already has this name."""
        from flowtrail.core.annotations.vocabulary import save_label

        return save_label(self)

    @property
    def synonym_list(self) -> list[str]:
        return [s for s in (self.synonyms or "").split(SYNONYM_SEPARATOR) if s]

    @property
    def parents(self) -> LinkedQuerySet[Label]:
        """The labels this one is a kind of (``.add()``/``.remove()`` change the links)."""
        from flowtrail.core.annotations.linked import linked_labels

        return linked_labels(self, "parents")

    @property
    def children(self) -> LinkedQuerySet[Label]:
        """The labels that are a kind of this one."""
        from flowtrail.core.annotations.linked import linked_labels

        return linked_labels(self, "children")

    @classmethod
    def lookup(cls, type: Label | str | None = None) -> Any:  # noqa: A002
        """Labels of a type as attributes for tab completion: ``Label.lookup("CellType").t_cell``.

        Without a type, the label types themselves.
        """
        from flowtrail.core.annotations.vocabulary import lookup

        return lookup(type)

    def lookup_name(self, value: str) -> Label | None:
        """The label of this type named ``value`` (or with it as ontology id or synonym)."""
        from flowtrail.core.annotations.vocabulary import vocabulary

        return vocabulary(self).match(value)

    def delete(self) -> None:
        """Delete the label and its links (refused while it is a type in use)."""
        from flowtrail.core.annotations.vocabulary import delete_label

        delete_label(self)

    def describe(self) -> None:
        """Print the label with its type, parents, children and annotated artifacts."""
        from flowtrail.core.describe.records import describe_label

        describe_label(self)

    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [
            ("name", self.name), ("is_type", self.is_type or None),
            ("type", self.type.name if self.type_id is not None and self.type is not None else None),
            ("ontology_id", self.ontology_id), ("uid", self.uid),
        ]  # fmt: skip
