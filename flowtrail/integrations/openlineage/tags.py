"""Dataset ``tags`` facets into feature values: a tag whose key names a registered feature sets it.

flowtrail emits an artifact's feature values and labels as a dataset ``tags`` facet. A registry
that ingests such events (from another flowtrail instance or any producer) fills the features it
has defined under the same names; other tags stay in the dataset's facets only. A value that does
not fit its feature (``"three"`` for an int, an unknown label) is skipped and logged, so an odd tag
never rejects the events that carry it.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from flowtrail.core.adapter import Problem

if TYPE_CHECKING:
    from flowtrail.core.adapter import FeatureInfo, ValueResolver
    from flowtrail.core.instance import Instance
    from flowtrail.integrations.openlineage._batch_state import Version

logger = logging.getLogger("flowtrail")


def carries_tags(version: Version) -> bool:
    """Whether this batch gave the dataset version a ``tags`` facet."""
    if isinstance(version.facets, dict) and "tags" in version.facets:
        return True
    return any("tags" in new or (side and "tags" in side) for new, side in version.facet_updates)


def apply_tag_values(instance: Instance, artifact_ids: list[int]) -> int:
    """Set feature values from the ``tags`` facets of these artifacts; return how many were set."""
    from flowtrail.core.adapter import ValueResolver, add_values_many, feature_catalog
    from flowtrail.core.models import Artifact

    catalog = feature_catalog(instance)
    if not catalog or not artifact_ids:
        return 0
    session = instance.sessions.current()
    try:
        rows = list(session.execute(select(Artifact.id, Artifact.facets).where(Artifact.id.in_(artifact_ids))))
    finally:
        instance.sessions.end_read()
    values: dict[int, dict[str, Any]] = {}
    skipped: list[str] = []
    resolver = ValueResolver(instance)  # the same label matching as add_values
    for artifact_id, facets in rows:
        for tag in ((facets or {}).get("tags") or {}).get("tags") or []:
            info = catalog.get(str(tag.get("key")))
            if info is None or not isinstance(tag.get("value"), str):
                continue
            try:
                value = _from_text(info, tag["value"], resolver)
            except ValueError as problem:
                skipped.append(f"{info.name}={tag['value']!r} ({problem})")
                continue
            per_artifact = values.setdefault(artifact_id, {})
            per_artifact.setdefault(info.name, []).append(value)
    if skipped:
        logger.warning("flowtrail: %d tag(s) did not fit their features and were skipped: %s", len(skipped), "; ".join(skipped[:5]))
    ids = {artifact.id: artifact for artifact in _records(instance, list(values))}
    add_values_many([(ids[i], {k: v[0] if len(v) == 1 else v for k, v in per.items()}) for i, per in values.items()])
    return sum(len(v) for per in values.values() for v in per.values())


def _records(instance: Instance, ids: list[int]) -> list[Any]:
    from flowtrail.core.models import Artifact

    session = instance.sessions.current()
    try:
        return list(session.scalars(select(Artifact).where(Artifact.id.in_(ids))))
    finally:
        instance.sessions.end_read()


def _from_text(info: FeatureInfo, text: str, resolver: ValueResolver) -> Any:
    """A tag's text as a value of the feature's dtype; ValueError if it does not fit."""
    if info.dtype == "int":
        return int(text)
    if info.dtype == "float":
        return float(text)
    if info.dtype == "bool":
        if text.lower() not in ("true", "false"):
            raise ValueError("not true or false")
        return text.lower() == "true"
    if info.dtype == "dict":
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError("not a JSON object")
        return value
    if info.is_categorical:
        try:
            resolver.label_id(info, text)
        except Problem:
            raise ValueError(f"not a label of {info.dtype}") from None
    return text  # str, date and datetime (ISO text) are checked when the values are added
