"""The lineage graph the browser draws: laid out in Python, expanded in place, grouped and capped.

``node`` names the start as ``artifact:UID``, ``run:UID``, ``transform:UID`` or
``collection:UID``. Each id in ``expand`` adds that node's neighbours (one run each way), so
clicking "expand" grows the graph where the user is looking; each group id in ``open`` shows the
group's members (``all`` turns grouping off); ``limit`` is the cap that "show more" raises.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from flowtrail.core.errors import DoesNotExist
from flowtrail.core.lineage.display import GROUP_ABOVE, MAX_NODES, display_graph, layout_json, merge
from flowtrail.core.lineage.graph import graph
from flowtrail.core.models import Artifact, Collection, Run, Transform

MODELS = {"artifact": Artifact, "run": Run, "transform": Transform, "collection": Collection}
MAX_EXPANDED = 50


def record_for(session: Any, node: str) -> Any:
    """The record behind ``kind:uid``; DoesNotExist (with what to type) otherwise."""
    kind, _, uid = node.partition(":")
    model = MODELS.get(kind)
    if model is None or not uid:
        raise DoesNotExist(f"{node!r} is not a node: use artifact:UID, run:UID, transform:UID or collection:UID.")
    record = session.scalar(select(model).where(model.uid == uid))
    if record is None:
        raise DoesNotExist(f"No {kind} has the uid {uid!r}.")
    return record


def picture(session: Any, node: str, direction: str = "up", depth: int | None = None,
            expand: list[str] | None = None, open_groups: list[str] | None = None,
            limit: int = MAX_NODES) -> dict[str, Any]:  # fmt: skip
    """The laid-out graph (see :func:`flowtrail.core.lineage.display.layout_json`) plus the start's page."""
    start = record_for(session, node)
    graphs = [graph(start, direction, depth)]  # type: ignore[arg-type]
    for extra in (expand or [])[:MAX_EXPANDED]:
        graphs.append(graph(record_for(session, extra), "both", 1))
    every = "all" in (open_groups or ())  # no grouping at all
    shown = display_graph(merge(graphs), open_groups=frozenset(open_groups or ()), max_nodes=limit,
                          group_above=10**9 if every else GROUP_ABOVE)  # fmt: skip
    result = layout_json(shown)
    result |= {"node": node, "direction": direction, "depth": depth, "limit": limit,
               "expand": expand or [], "open": open_groups or []}  # fmt: skip
    return result


__all__ = ["picture", "record_for"]
