"""Finding a record from what a user types: a uid, a short id, a key or a run name.

Lookups go in tiers, and the first tier that finds anything decides:

1. the full uid of an artifact, collection, transform or run;
2. the key of an artifact, collection or transform (latest version), or the name of a run;
3. a uid prefix (the short id of artifacts, collections and transforms), or the start or the
   random tail of a run's uid (a run's short id, see :mod:`.short_ids`).

When a tier finds several records, :class:`MultipleResultsFound` lists them with what tells them
apart (storage location, transform, start time) and how to name one of them.
"""

from __future__ import annotations

from typing import Any

from flowtrail.core.errors import DoesNotExist, MultipleResultsFound
from flowtrail.core.models import Artifact, Collection, Run, Transform
from flowtrail.core.util.short_ids import MIN_TYPED, could_be_run_tail, short_id

MIN_PREFIX = MIN_TYPED
SHOWN_CANDIDATES = 10


def find_record(text: str, command: str = "flowtrail describe") -> Any:
    """The artifact, collection, run or transform that ``text`` names (see the module docstring).

    ``command`` is the command line the messages suggest for naming one of several candidates.
    """
    for model in (Artifact, Collection, Transform, Run):
        exact = model.filter(uid=text).first()
        if exact is not None:
            return exact
    named = _by_key_or_name(text)
    if named:
        return _one(text, named, "key" if not isinstance(named[0], Run) else "run name", command)
    by_id = _by_short_id(text)
    if by_id:
        return _one(text, by_id, "id", command)
    raise DoesNotExist(
        f"No artifact, collection, run or transform has the uid, short id, key or run name {text!r}. "
        "List them with `flowtrail ls artifacts` (or runs, transforms, collections)."
    )


def _by_key_or_name(text: str) -> list[Any]:
    found: list[Any] = []
    found += Artifact.filter(key=text, is_latest=True).order_by("-id")[:SHOWN_CANDIDATES + 1].to_list()
    found += Collection.filter(key=text, is_latest=True)[:SHOWN_CANDIDATES].to_list()
    found += Transform.filter(key=text, is_latest=True)[:SHOWN_CANDIDATES].to_list()
    if not found:
        found += Run.filter(name=text).order_by("-id")[:SHOWN_CANDIDATES + 1].to_list()
    return found


def _by_short_id(text: str) -> list[Any]:
    if len(text) < MIN_TYPED:
        return []
    found: list[Any] = []
    for model in (Artifact, Collection, Transform):
        found += model.filter(uid__startswith=text, is_latest=True)[:SHOWN_CANDIDATES].to_list()
    found += Run.filter(uid__startswith=text).order_by("-id")[:SHOWN_CANDIDATES].to_list()
    if could_be_run_tail(text):
        found += Run.filter(uid__endswith=text.lower()).order_by("-id")[:SHOWN_CANDIDATES].to_list()
    unique = {(type(c).__name__, c.id): c for c in found}
    return list(unique.values())


def _one(text: str, candidates: list[Any], what: str, command: str) -> Any:
    if len(candidates) == 1:
        return candidates[0]
    shown = candidates[:SHOWN_CANDIDATES]
    lines = [f"  {describe_candidate(c)}" for c in shown]
    if len(candidates) > len(shown):
        lines.append("  ... and more")
    if all(isinstance(c, Artifact) for c in shown) and len({c.storage_id for c in shown}) > 1:
        reason = f"the key {text!r} exists in {len(candidates)} storage locations"
    else:
        reason = f"the {what} {text!r} matches {len(candidates)} records"
    example = _choice(shown[0])
    raise MultipleResultsFound(
        f"{reason}:\n" + "\n".join(lines) + f"\nChoose one by its id, e.g. `{command} {example}`."
    )


def _choice(record: Any) -> str:
    return record.uid if isinstance(record, Run) else short_id(record)


def describe_candidate(record: Any) -> str:
    """One line telling a candidate apart from others with the same key, name or id prefix."""
    kind = type(record).__name__
    if isinstance(record, Artifact):
        return f"{kind} {_choice(record)}  {record.key or '(no key)'} v{record.version}  in {record.storage.root}"
    if isinstance(record, Run):
        started = record.started_at.strftime("%Y-%m-%d %H:%M:%S") if record.started_at else "-"
        name = f" {record.name}" if record.name else ""
        return f"{kind} {record.uid}{name}  {record.transform.key}  {record.status}, started {started}"
    return f"{kind} {_choice(record)}  {record.key} v{record.version}"
