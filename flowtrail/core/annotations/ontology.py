"""Importing an ontology (OBO, CSV or TSV; local files only) as the labels of one label type.

``import_ontology("cl.obo", type="CellType")`` creates the type if needed and upserts every term by
its ontology id within that type: a newer release renames terms, replaces their synonyms and
``is_a`` parents and adds new terms, and never duplicates a term. Terms missing from a newer
release are kept (artifacts may be annotated with them); the report counts them.

The file is parsed and checked completely before anything is written; the writes are a handful of
``executemany`` statements in one :func:`~flowtrail.core.db.database.write_transaction`, so an
error leaves the registry as it was. Nothing here touches the network.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Table, bindparam, delete, insert, select, update

from flowtrail.core.annotations.ontology_parse import OntologyImportError, Term, read_terms
from flowtrail.core.db.context import current
from flowtrail.core.db.database import write_transaction
from flowtrail.core.models.label import SYNONYM_SEPARATOR, Label, label_parent
from flowtrail.core.models.record import utcnow
from flowtrail.core.runs.tracking import current_run
from flowtrail.core.util.host import current_user
from flowtrail.core.util.ids import random_base62

__all__ = ["ImportReport", "OntologyImportError", "import_ontology"]

REFERENCE_TYPE = "ontology"
_VERSION_IN_NAME = re.compile(r"(v?\d{4}-\d{2}-\d{2}|v\d+(?:\.\d+)*)")
_CONTENT = ("name", "synonyms", "description")


@dataclass
class ImportReport:
    """What an import did; ``str(report)`` is a one-paragraph summary."""

    type: str
    source: str
    format: str
    reference: str | None
    terms: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    created_type: bool = False
    obsolete_skipped: int = 0
    other_prefix_skipped: int = 0
    stanzas_skipped: int = 0
    synonyms_dropped: int = 0
    parent_links: int = 0
    links_added: int = 0
    links_removed: int = 0
    parents_outside: int = 0
    not_in_file: int = 0
    duplicate_names: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def __str__(self) -> str:
        parts = [
            f"Imported {self.terms} terms of {self.type} from {self.source} ({self.format}"
            + (f", version {self.reference})" if self.reference else ")")
            + f" in {self.seconds:.2f} s: {self.created} new, {self.updated} updated, {self.unchanged} unchanged.",
            f"{self.parent_links} is_a links ({self.links_added} added, {self.links_removed} removed).",
        ]
        notes = [
            (self.created_type, f"created the label type {self.type}"),
            (self.obsolete_skipped, f"{self.obsolete_skipped} obsolete terms skipped"),
            (self.other_prefix_skipped, f"{self.other_prefix_skipped} terms with another id prefix skipped"),
            (self.parents_outside, f"{self.parents_outside} parents outside the file ignored"),
            (self.not_in_file, f"{self.not_in_file} earlier {self.type} terms are not in this file (kept)"),
            (self.synonyms_dropped, f"{self.synonyms_dropped} synonyms containing '|' dropped"),
            (self.duplicate_names, f"names used by several terms: {', '.join(self.duplicate_names[:5])}"),
            (self.ignored_columns, f"columns ignored: {', '.join(self.ignored_columns)}"),
        ]
        parts += [f"Note: {text}." for flag, text in notes if flag]
        return " ".join(parts)


def file_version(path: Path, data_version: str | None) -> str:
    """The release a file holds: its ``data-version:`` header, else a version in its name, else its name."""
    if data_version:
        return data_version
    found = _VERSION_IN_NAME.search(path.stem)
    return found.group(1) if found else path.name


def import_ontology(
    path: str | Path,
    type: str = "CellType",
    *,
    format: str | None = None,
    prefix: str | None = None,
    include_obsolete: bool = False,
    synonym_scopes: Iterable[str] | None = None,
) -> ImportReport:
    """Import the terms of a local OBO/CSV/TSV file as labels of the type ``type``.

    ``prefix="CL"`` keeps only ids starting with ``CL:`` (OBO releases often carry terms of other
    ontologies). ``synonym_scopes=("EXACT",)`` keeps only those synonym scopes (default: all).
    Obsolete terms are skipped unless ``include_obsolete=True``. Raises
    :class:`OntologyImportError` (nothing written) for a missing or malformed file.
    """
    started = time.perf_counter()
    if not isinstance(type, str) or not type.strip():
        raise OntologyImportError("type must be the name of a label type, e.g. type='CellType'.")
    source = Path(path)
    fmt, parsed = read_terms(source, format, synonym_scopes=synonym_scopes)
    report = ImportReport(type=type, source=str(source), format=fmt, reference=file_version(source, parsed.data_version))
    report.stanzas_skipped, report.synonyms_dropped = parsed.skipped_stanzas, parsed.dropped_synonyms
    report.ignored_columns = parsed.ignored_columns
    terms = _select_terms(parsed.terms, prefix, include_obsolete, report)
    if not terms:
        raise OntologyImportError(
            f"{source}: no terms to import"
            + (f" with the prefix {prefix!r}" if prefix else "")
            + "; check the file (and the prefix), or pass include_obsolete=True for obsolete terms."
        )
    _write(terms, report)
    report.seconds = time.perf_counter() - started
    return report


def _select_terms(terms: list[Term], prefix: str | None, include_obsolete: bool, report: ImportReport) -> list[Term]:
    wanted = prefix.rstrip(":") + ":" if prefix else None
    kept = []
    for term in terms:
        if term.obsolete and not include_obsolete:
            report.obsolete_skipped += 1
        elif wanted is not None and not term.ontology_id.startswith(wanted):
            report.other_prefix_skipped += 1
        else:
            kept.append(term)
    names: dict[str, int] = {}
    for term in kept:
        names[term.name] = names.get(term.name, 0) + 1
    report.duplicate_names = sorted(name for name, count in names.items() if count > 1)
    report.terms = len(kept)
    return kept


def _write(terms: list[Term], report: ImportReport) -> None:
    instance = current()
    with write_transaction(instance.sessions, locks=[f"label-import:{report.type}", "label_parent"]) as session:
        type_id = _type_id(session, report)
        ids = _upsert_labels(session, type_id, terms, report)
        _link_parents(session, type_id, terms, ids, report)
    for record in list(session.identity_map.values()):
        if isinstance(record, Label):  # rows changed underneath loaded records: reload on next access
            session.expire(record)


def _stamp() -> dict[str, Any]:
    run = current_run()
    return {"uid": random_base62(12), "created_at": utcnow(), "created_by": current_user(), "run_id": run.id if run else None}


def _type_id(session: Any, report: ImportReport) -> int:
    table: Table = Label.__table__  # type: ignore[assignment]  # a Table, typed as FromClause
    rows = session.execute(
        select(table.c.id, table.c.type_id).where(table.c.is_type.is_(True), table.c.name == report.type).order_by(table.c.id)
    ).all()
    top = [r.id for r in rows if r.type_id is None]
    if rows:
        return top[0] if top else rows[0].id
    report.created_type = True
    result = session.execute(insert(table).values(name=report.type, is_type=True, type_id=None, **_stamp()))
    return int(result.inserted_primary_key[0])


def _upsert_labels(session: Any, type_id: int, terms: list[Term], report: ImportReport) -> dict[str, int]:
    """Insert new terms and update changed ones; return ontology id -> label id for the whole type."""
    table: Table = Label.__table__  # type: ignore[assignment]  # a Table, typed as FromClause
    existing = session.execute(
        select(table.c.id, table.c.name, table.c.ontology_id, table.c.synonyms, table.c.description,
               table.c.reference, table.c.reference_type)
        .where(table.c.type_id == type_id).order_by(table.c.id)
    ).all()  # fmt: skip
    by_id: dict[str, Any] = {}
    by_name: dict[str, Any] = {}  # labels created by hand (no ontology id) adopt their term
    for row in existing:
        if row.ontology_id:
            by_id.setdefault(row.ontology_id, row)
        else:
            by_name.setdefault(row.name, row)
    in_file = {term.ontology_id for term in terms}
    report.not_in_file = sum(1 for oid in by_id if oid not in in_file)
    inserts, updates = [], []
    for term in terms:
        wanted = {
            "name": term.name, "synonyms": SYNONYM_SEPARATOR.join(term.synonyms) or None,
            "description": term.description, "reference": report.reference, "reference_type": REFERENCE_TYPE,
        }  # fmt: skip
        row = by_id.get(term.ontology_id) or by_name.pop(term.name, None)
        if row is None:
            inserts.append({**wanted, "ontology_id": term.ontology_id, "type_id": type_id, "is_type": False, **_stamp()})
            continue
        current_values = {k: getattr(row, k) for k in wanted}
        if row.ontology_id != term.ontology_id or current_values != wanted:
            updates.append({"b_id": row.id, "b_ontology_id": term.ontology_id, **{f"b_{k}": v for k, v in wanted.items()}})
        content_changed = row.ontology_id != term.ontology_id or any(current_values[k] != wanted[k] for k in _CONTENT)
        report.updated += content_changed
        report.unchanged += not content_changed
    report.created = len(inserts)
    if inserts:
        session.execute(insert(table), inserts)
    if updates:
        columns = ("ontology_id", "name", "synonyms", "description", "reference", "reference_type")
        stmt = update(table).where(table.c.id == bindparam("b_id")).values({c: bindparam(f"b_{c}") for c in columns})
        session.execute(stmt, updates)
    rows = session.execute(
        select(table.c.id, table.c.ontology_id)
        .where(table.c.type_id == type_id, table.c.ontology_id.is_not(None)).order_by(table.c.id)
    )  # fmt: skip
    ids: dict[str, int] = {}
    for label_id, ontology_id in rows:
        ids.setdefault(ontology_id, label_id)
    return ids


def _link_parents(session: Any, type_id: int, terms: list[Term], ids: dict[str, int], report: ImportReport) -> None:
    """Make the is_a links of the file's terms (to labels of the same type) match the file."""
    wanted: set[tuple[int, int]] = set()
    for term in terms:
        child = ids[term.ontology_id]
        for parent in term.parents:
            if parent in ids:
                wanted.add((child, ids[parent]))
            else:
                report.parents_outside += 1
    labels: Table = Label.__table__  # type: ignore[assignment]
    child_of, parent_of = labels.alias("child"), labels.alias("parent")
    rows = session.execute(  # joins, not IN (subquery): SQLite would probe every (child, parent) pair
        select(label_parent.c.child_id, label_parent.c.parent_id)
        .join(child_of, child_of.c.id == label_parent.c.child_id)
        .join(parent_of, parent_of.c.id == label_parent.c.parent_id)
        .where(child_of.c.type_id == type_id, parent_of.c.type_id == type_id)
    ).all()  # fmt: skip
    existing = {(r.child_id, r.parent_id) for r in rows}
    children = {ids[term.ontology_id] for term in terms}
    removed = {link for link in existing if link[0] in children and link not in wanted}
    added = wanted - existing
    _refuse_cycles((existing - removed) | added, {v: k for k, v in ids.items()})
    if removed:
        stmt = delete(label_parent).where(
            label_parent.c.child_id == bindparam("b_child"), label_parent.c.parent_id == bindparam("b_parent")
        )
        session.execute(stmt, [{"b_child": c, "b_parent": p} for c, p in sorted(removed)])
    if added:
        session.execute(insert(label_parent), [{"child_id": c, "parent_id": p} for c, p in sorted(added)])
    report.links_added, report.links_removed, report.parent_links = len(added), len(removed), len(wanted)


def _refuse_cycles(links: set[tuple[int, int]], names: dict[int, str]) -> None:
    """Raise if the is_a graph has a cycle (a term would be its own ancestor)."""
    parents: dict[int, list[int]] = {}
    for child, parent in links:
        parents.setdefault(child, []).append(parent)
    state: dict[int, int] = {}  # 1 = on the current path, 2 = done
    for start in parents:
        if state.get(start):
            continue
        stack: list[tuple[int, Iterable[int]]] = [(start, iter(parents.get(start, ())))]
        state[start] = 1
        while stack:
            node, pending = stack[-1]
            nxt = next(pending, None)  # type: ignore[call-overload]
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                path = [names.get(n, str(n)) for n, _ in stack] + [names.get(nxt, str(nxt))]
                cycle = path[path.index(names.get(nxt, str(nxt))) :]
                raise OntologyImportError(
                    f"The is_a links form a cycle ({' -> '.join(cycle)}); a term cannot be its own ancestor. "
                    "Fix the parents in the file and import again (nothing was written)."
                )
            elif not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, iter(parents.get(nxt, ()))))
