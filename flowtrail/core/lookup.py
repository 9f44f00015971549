"""Finding a record from what a user types: a uid, a uid prefix or a key."""

from __future__ import annotations

from typing import Any

from .errors import DoesNotExist, MultipleResultsFound
from .models import Artifact, Collection, Run, Transform

MIN_PREFIX = 4


def find_record(text: str) -> Any:
    """The artifact, collection, run or transform that ``text`` names (uid, uid prefix, or key of the latest version)."""
    candidates: list[Any] = []
    if len(text) >= MIN_PREFIX:
        for model in (Artifact, Collection, Transform):
            exact = model.filter(uid=text).first()
            if exact is not None:
                return exact
            candidates += model.filter(uid__startswith=text, is_latest=True).to_list()
        run = Run.filter(uid=text).first()
        if run is not None:
            return run
        candidates += Run.filter(uid__startswith=text)[:5].to_list()
    candidates += Artifact.filter(key=text, is_latest=True).to_list()
    candidates += Collection.filter(key=text, is_latest=True).to_list()
    candidates += Transform.filter(key=text, is_latest=True).to_list()
    unique = {(type(c).__name__, c.id): c for c in candidates}
    if not unique:
        raise DoesNotExist(
            f"No artifact, collection, run or transform has the uid or key {text!r}. "
            "List them with `flowtrail ls artifacts` (or runs, transforms)."
        )
    if len(unique) > 1:
        names = ", ".join(f"{type(c).__name__} {c.uid}" for c in list(unique.values())[:5])
        raise MultipleResultsFound(f"{text!r} matches several records ({names}): give a longer uid.")
    return next(iter(unique.values()))
