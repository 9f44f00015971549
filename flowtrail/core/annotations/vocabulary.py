"""Saving labels and matching values against a label type's vocabulary (names, ids, synonyms)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from flowtrail.core.db.context import current
from flowtrail.core.db.database import write_transaction
from flowtrail.core.errors import DoesNotExist, FieldError, IntegrityError, MultipleResultsFound
from flowtrail.core.models.feature import Feature
from flowtrail.core.models.label import SYNONYM_SEPARATOR, Label
from flowtrail.core.models.schema import Schema
from flowtrail.core.runs.tracking import current_run
from flowtrail.core.util.host import current_user
from flowtrail.core.util.ids import random_base62

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance


def check_label_arguments(name: Any, type_: Any, synonyms: Any) -> None:
    if not isinstance(name, str) or not name.strip():
        raise FieldError("A label needs a non-empty name, e.g. Label(name='DMSO', type=cell_medium).")
    if type_ is not None and not (isinstance(type_, Label) and type_.is_type):
        shown = type_.name if isinstance(type_, Label) else repr(type_)
        raise FieldError(
            f"type={shown} is not a label type: create the type with Label(name='CellMedium', is_type=True).save() "
            "and pass that record."
        )
    items = [synonyms] if isinstance(synonyms, str) else list(synonyms or [])
    if any(not isinstance(s, str) for s in items):
        raise FieldError(f"synonyms must be strings, got {synonyms!r}.")


def save_label(label: Label) -> Label:
    """Insert ``label`` unless its type already has a label of this name (then return that one)."""
    if label.id is not None:
        return label._save_changes()
    label_type = label.type
    if label_type is not None and label_type.id is None:
        label_type = label_type.save()
    type_id = label_type.id if label_type is not None else None
    instance = current()
    run = current_run()
    with write_transaction(instance.sessions, locks=[f"label:{type_id}:{label.name}"]) as session:
        existing = session.scalars(
            select(Label).where(_same_type(type_id), Label.name == label.name, Label.is_type == label.is_type).limit(1)
        ).first()
        if existing is not None:
            return existing
        label.type = label_type
        label.uid = random_base62(12)
        label.created_by = current_user()
        label.run_id = run.id if run is not None else None
        session.add(label)
    return label


def _same_type(type_id: int | None) -> Any:
    return Label.type_id.is_(None) if type_id is None else Label.type_id == type_id


def get_type(name: str, instance: Instance | None = None) -> Label:
    """The label type called ``name``; raise with the existing types listed if there is none."""
    instance = instance or current()
    session = instance.sessions.current()
    try:
        found = list(session.scalars(select(Label).where(Label.is_type.is_(True), Label.name == name).order_by(Label.id)))
        if not found:
            names = list(session.scalars(select(Label.name).where(Label.is_type.is_(True)).order_by(Label.name)))
    finally:
        instance.sessions.end_read()
    if not found:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise DoesNotExist(
            f"No label type named {name!r}.{hint} Create it with Label(name={name!r}, is_type=True).save()"
            + (f"; existing types: {', '.join(names)}." if names else ".")
        )
    top = [t for t in found if t.type_id is None]
    if len(found) > 1 and len(top) != 1:
        raise MultipleResultsFound(f"Several label types are named {name!r}: pass the type record instead of its name.")
    return top[0] if top else found[0]


@dataclass
class Vocabulary:
    """The labels of one type (or of all labels) in memory, matched by name, ontology id or synonym."""

    type_name: str | None
    labels: dict[int, tuple[str, str | None, tuple[str, ...]]] = field(default_factory=dict)
    _exact: dict[str, int] = field(default_factory=dict)
    _folded: dict[str, int] = field(default_factory=dict)
    _synonyms: dict[str, int] = field(default_factory=dict)

    def add(self, label_id: int, name: str, ontology_id: str | None, synonyms: str | None) -> None:
        words = tuple(s for s in (synonyms or "").split(SYNONYM_SEPARATOR) if s)
        self.labels[label_id] = (name, ontology_id, words)
        self._exact.setdefault(name, label_id)
        self._folded.setdefault(name.casefold(), label_id)
        if ontology_id:
            self._exact.setdefault(ontology_id, label_id)
        for word in words:
            self._synonyms.setdefault(word.casefold(), label_id)

    def match_id(self, value: str) -> int | None:
        """The id of the label whose name or ontology id is ``value``, else by synonym or case."""
        found = self._exact.get(value)
        if found is None:
            folded = value.casefold()
            found = self._synonyms.get(folded, self._folded.get(folded))
        return found

    def is_name(self, value: str) -> bool:
        """Whether ``value`` is a canonical name (validation passes without standardising)."""
        return value in self._exact and self.labels[self._exact[value]][0] == value

    def name_of(self, value: str) -> str | None:
        """The canonical name ``value`` stands for (itself, a synonym, an ontology id), or None."""
        found = self.match_id(value)
        return self.labels[found][0] if found is not None else None

    def match(self, value: str) -> Label | None:
        found = self.match_id(value)
        if found is None:
            return None
        session = current().sessions.current()
        try:
            return session.get(Label, found)
        finally:
            current().sessions.end_read()

    def suggest(self, value: str) -> str | None:
        """The label name closest to ``value``, judged over names and synonyms together.

        ``"NK cel"`` suggests ``"natural killer cell"`` through its synonym ``"NK cell"``, rather
        than the name that happens to be closest (``"T cell"``).
        """
        spellings: dict[str, int] = {}
        for label_id, (name, _ontology_id, synonyms) in self.labels.items():
            spellings.setdefault(name.casefold(), label_id)
            for word in synonyms:
                spellings.setdefault(word.casefold(), label_id)
        close = difflib.get_close_matches(value.casefold(), list(spellings), n=1, cutoff=0.6)
        return self.labels[spellings[close[0]]][0] if close else None


def vocabulary(label_type: Label | str | None, instance: Instance | None = None) -> Vocabulary:
    """Load every label of ``label_type`` (all non-type labels for ``None``) for matching."""
    instance = instance or current()
    if isinstance(label_type, str):
        label_type = get_type(label_type, instance)
    stmt = select(Label.id, Label.name, Label.ontology_id, Label.synonyms).order_by(Label.id)
    if label_type is None:
        stmt = stmt.where(Label.is_type.is_(False))
    else:
        stmt = stmt.where(Label.type_id == label_type.id)
    vocab = Vocabulary(label_type.name if label_type is not None else None)
    session = instance.sessions.current()
    try:
        for row in session.execute(stmt):
            vocab.add(*row)
    finally:
        instance.sessions.end_read()
    return vocab


class Lookup:
    """Labels as attributes for tab completion: ``cell_types.t_cell``, or ``cell_types["T cell"]``."""

    def __init__(self, labels: list[Label]) -> None:
        self._by_name = {label.name: label for label in labels}
        self._by_attribute: dict[str, Label] = {}
        for label in labels:
            self._by_attribute.setdefault(attribute_name(label.name), label)

    def __getattr__(self, name: str) -> Label:
        try:
            return self.__dict__["_by_attribute"][name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self.__dict__.get("_by_attribute", {})), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise AttributeError(f"No label with the attribute name {name!r}.{hint}") from None

    def __getitem__(self, name: str) -> Label:
        return self._by_name[name]

    def __dir__(self) -> list[str]:
        return sorted(self._by_attribute)

    def __len__(self) -> int:
        return len(self._by_name)

    def __repr__(self) -> str:
        shown = ", ".join(sorted(self._by_attribute)[:8])
        return f"<Lookup of {len(self)} labels: {shown}{', ...' if len(self) > 8 else ''}>"


def attribute_name(name: str) -> str:
    """``"T cell"`` -> ``"t_cell"``; names starting with a digit get a leading underscore."""
    text = "".join(c if c.isalnum() else "_" for c in name.casefold()).strip("_")
    while "__" in text:
        text = text.replace("__", "_")
    return f"_{text}" if not text or text[0].isdigit() else text


def lookup(label_type: Label | str | None = None) -> Lookup:
    """Every label of ``label_type`` (or every label type for ``None``) as a :class:`Lookup`."""
    if isinstance(label_type, str):
        label_type = get_type(label_type)
    query = Label.filter(is_type=True) if label_type is None else Label.filter(type=label_type)
    return Lookup(query.to_list())


def delete_label(label: Label) -> None:
    """Delete a label (its links to artifacts and parents go with it); refused while something depends on it."""
    from sqlalchemy import func

    if label.id is None:
        raise IntegrityError("This label was never saved, so there is nothing to delete.")
    with write_transaction(current().sessions, locks=[f"label:{label.type_id}:{label.name}"]) as session:
        members = session.scalar(select(func.count()).select_from(Label).where(Label.type_id == label.id)) or 0
        features = list(session.scalars(select(Feature.name).where(Feature.label_type_id == label.id)))
        schemas = session.scalar(select(func.count()).select_from(Schema).where(Schema.itype_label_id == label.id)) or 0
        reasons = []
        if members:
            reasons.append(f"{members} label(s) have it as their type")
        if features:
            reasons.append(f"feature(s) {', '.join(features)} take their values from it")
        if schemas:
            reasons.append(f"{schemas} schema(s) use it as their itype")
        if reasons:
            raise IntegrityError(
                f"Label {label.name!r} cannot be deleted: {'; '.join(reasons)}. Delete or retype those first."
            )
        session.delete(label)
