"""``flowtrail lineage`` at a terminal: the graph as a readable tree instead of picture source.

Upstream reads "this file <- made by run <- from these inputs <- ...", downstream "this file ->
read by run -> which made ...". Nodes met twice are printed once and referred to afterwards;
long fan-outs are cut with "... and N more" so a 1,000-node closure stays a screenful.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from rich.markup import escape
from rich.tree import Tree

from flowtrail.core.lineage.graph import LineageGraph
from flowtrail.core.models import Artifact, Collection, Transform

MAX_CHILDREN = 8
MAX_LINES = 200


def _label(record: Any) -> str:
    if isinstance(record, Artifact):
        short = f" {record.hash[:7]}" if record.hash else ""
        return f"[bold]{escape(record.key or record.uid)}[/] [dim]v{record.version}{short}[/]"
    if isinstance(record, Collection):
        return f"[bold]{escape(record.key)}[/] [dim]collection v{record.version}, {record.n_artifacts} artifacts[/]"
    if isinstance(record, Transform):
        return f"transform [bold]{escape(record.key)}[/] [dim]v{record.version} {record.type}[/]"
    status = record.status
    color = "red" if status in ("failed", "aborted") else "green" if status == "completed" else "yellow"
    name = escape(record.name or record.transform.key)
    transform = f" [dim]{escape(record.transform.key)}[/]" if record.name and record.name != record.transform.key else ""
    return f"run [bold]{name}[/] [{color}]{status}[/]{transform} [dim]{record.uid[-8:]}[/]"


def lineage_tree(graph: LineageGraph) -> Tree:
    """A rich Tree of ``graph`` rooted at its start node (both directions as two branches)."""
    ids = {node_id: graph.node(node_id) for node_id in graph.node_ids}
    start_id = next((n for n, r in ids.items() if type(r) is type(graph.start) and r.id == graph.start.id), None)
    preds: dict[str, list[str]] = defaultdict(list)
    succs: dict[str, list[str]] = defaultdict(list)
    for a, b in graph.edges:
        succs[a].append(b)
        preds[b].append(a)
    root = Tree(_label(graph.start))
    lines = [1]
    roots = [start_id] if start_id else []
    if start_id is None:  # a transform: its runs are where the walk starts
        roots = [n for n in graph.node_ids if n.startswith("run:") and ids[n].transform_id == graph.start.id]

    def grow(branch: Tree, node_id: str, step: dict[str, list[str]], arrow: str, seen: set[str]) -> None:
        children = sorted(step.get(node_id, []), key=lambda n: (ids[n].__class__.__name__, str(getattr(ids[n], "key", ""))))
        for child in children[:MAX_CHILDREN]:
            if lines[0] >= MAX_LINES:
                branch.add("[dim]... (cut; write a picture with -o lineage.html)[/]")
                return
            lines[0] += 1
            if child in seen:
                branch.add(f"{arrow} {_label(ids[child])} [dim](shown above)[/]")
                continue
            seen.add(child)
            grow(branch.add(f"{arrow} {_label(ids[child])}"), child, step, arrow, seen)
        if len(children) > MAX_CHILDREN:
            branch.add(f"[dim]... and {len(children) - MAX_CHILDREN} more[/]")

    for way, step, arrow in (("up", preds, "<-"), ("down", succs, "->")):
        if graph.direction not in (way, "both"):
            continue
        branch = root.add("[italic]made from[/]" if way == "up" else "[italic]used by[/]") if graph.direction == "both" else root
        for start in roots:
            target = branch if start == start_id else branch.add(f"{arrow} {_label(ids[start])}")
            grow(target, start, step, arrow, {start})
    return root


__all__ = ["lineage_tree"]
