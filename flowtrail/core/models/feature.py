"""Feature: a typed annotation an artifact can carry (``batch: int``, ``tissue: cat[Label[Tissue]]``).

Dtypes are ``int``, ``float``, ``str``, ``bool``, ``date``, ``datetime``, ``dict`` and categorical:
``cat[Label]`` (any label) or ``cat[Label[CellMedium]]`` (labels of the type ``CellMedium``).
Values are checked against the dtype when they are added (see :mod:`.feature_values`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from flowtrail.core.errors import FieldError
from flowtrail.core.models.record import Record, utcnow
from flowtrail.core.query.lookups import LOOKUPS, field_names

if TYPE_CHECKING:
    from flowtrail.core.models.label import Label

SCALAR_DTYPES = ("int", "float", "str", "bool", "date", "datetime", "dict")
_PYTHON_DTYPES = {int: "int", float: "float", str: "str", bool: "bool", dt.date: "date", dt.datetime: "datetime", dict: "dict"}
_CAT = re.compile(r"^cat\[Label(?:\[(?P<type>[^\[\]]+)\])?\]$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def parse_dtype(dtype: Any) -> tuple[str, str | None]:
    """Normalise a dtype to its stored spelling and, for categorical ones, the label type's name."""
    from flowtrail.core.models.label import Label

    if isinstance(dtype, type) and dtype in _PYTHON_DTYPES:
        return _PYTHON_DTYPES[dtype], None
    if dtype is Label:
        return "cat[Label]", None
    if isinstance(dtype, Label):
        if not dtype.is_type:
            raise FieldError(
                f"dtype={dtype.name!r} is a label, not a label type: pass a type created with "
                f"Label(name=..., is_type=True), e.g. Label(name='CellMedium', is_type=True)."
            )
        return f"cat[Label[{dtype.name}]]", dtype.name
    if isinstance(dtype, str):
        text = dtype.strip()
        if text in SCALAR_DTYPES:
            return text, None
        if text in ("cat", "cat[Label]"):
            return "cat[Label]", None
        match = _CAT.match(text)
        if match:
            return text, match.group("type")
    raise FieldError(
        f"Unknown feature dtype {dtype!r}: use one of int, float, str, bool, date, datetime, dict, "
        "a label type (Label record with is_type=True), Label, or a string like 'cat[Label[CellMedium]]'."
    )


def check_feature_name(name: str) -> None:
    """Feature names become filter keywords, so they must not shadow fields or contain '__'."""
    from flowtrail.core.models.artifact import Artifact

    if not isinstance(name, str) or not _NAME.match(name) or "__" in name:
        raise FieldError(
            f"Feature name {name!r} is not usable in filters: use letters, digits, '_', '-' or '.', "
            "start with a letter or '_', and do not use '__' (it separates lookups)."
        )
    reserved = {*field_names(Artifact), *Artifact._query_aliases, *LOOKUPS, "features", "labels", "projects", "pk"}
    if name in reserved:
        raise FieldError(
            f"Feature name {name!r} is an Artifact field or lookup, so filter({name}=...) would be ambiguous: "
            f"choose another name, e.g. {name + '_value'!r}."
        )


class Feature(Record):
    """A named, typed annotation: ``Feature(name="batch", dtype=int).save()``."""

    __tablename__ = "feature"
    _search_fields = ("name", "description", "uid")

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    dtype: Mapped[str] = mapped_column(String(255))
    label_type_id: Mapped[int | None] = mapped_column(ForeignKey("label.id", ondelete="RESTRICT"))
    unit: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(256))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("run.id", ondelete="SET NULL"))

    label_type: Mapped[Label | None] = relationship()

    def __init__(self, name: str, dtype: Any, *, description: str | None = None, unit: str | None = None) -> None:
        check_feature_name(name)
        spelled, type_name = parse_dtype(dtype)
        super().__init__(name=name, dtype=spelled, description=description, unit=unit)
        self._label_type_name = type_name
        from flowtrail.core.models.label import Label

        if isinstance(dtype, Label):
            self.label_type = dtype

    @property
    def is_categorical(self) -> bool:
        return self.dtype.startswith("cat")

    def save(self) -> Feature:
        """Register the feature; return the existing one if a feature of this name and dtype exists."""
        from flowtrail.core.annotations.values import save_feature

        return save_feature(self)

    def delete(self) -> None:
        """Delete the feature and all its values (refused while a schema uses it)."""
        from flowtrail.core.annotations.values import delete_feature

        delete_feature(self)

    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [("name", self.name), ("dtype", self.dtype), ("uid", self.uid)]
