"""What a lineage picture shows: labelled nodes, grouped and capped so large graphs stay readable.

A :class:`~flowtrail.core.lineage.graph.LineageGraph` holds records; a :class:`DisplayGraph` holds what
a reader sees: runs named by their run name (``count[sample=a]``) and status, artifacts by key and
version, and for large workflows *groups*: the 24 runs of one rule become one node
``count × 24`` (with how many failed), and artifacts joined to the same groups the same way become
one node ``results/*.counts.txt × 24``. A cap keeps the nodes closest to the start and says how
many are hidden, so a 1,000-node closure opens as a readable picture with a "show more".

:func:`layout_json` adds the positions from :mod:`flowtrail.core.lineage.layout`; the SVG writer,
the HTML file and the web interface all draw that same JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from flowtrail.core.describe.records import human_size
from flowtrail.core.lineage.graph import LineageGraph
from flowtrail.core.lineage.layout import layered_layout
from flowtrail.core.models import Artifact, Collection, Run

GROUP_ABOVE = 6  # more runs of one transform than this (in one graph) become a group
MAX_NODES = 300
LABEL_CHARS = 38
CHAR_WIDTH = 6.9  # px per character at the 12 px sans-serif the pictures use
NODE_HEIGHT = 38.0
FAILED = ("failed", "aborted")
MAX_DETAILS = 12  # params shown per run


@dataclass
class DisplayNode:
    """One box of the picture."""

    id: str  # "artifact:UID", "run:UID", "collection:UID" or "group:..."
    kind: str  # artifact, run, collection, group
    title: str
    subtitle: str
    uid: str | None = None
    status: str | None = None  # runs and run groups: completed, failed, ...
    start: bool = False
    members: list[str] = field(default_factory=list)  # a group's node ids
    member_titles: list[str] = field(default_factory=list)  # ... and their labels (at most 200)
    failed: int = 0  # failed runs in a group
    more: int = 0  # neighbours hidden by the cap
    details: dict[str, str] = field(default_factory=dict)  # shown when the node is selected: params, size, error


@dataclass
class DisplayGraph:
    """The nodes and edges to draw, plus what grouping and the cap left out."""

    nodes: list[DisplayNode]
    edges: list[tuple[str, str]]
    hidden: int = 0  # nodes left out by the cap
    total: int = 0  # nodes after grouping, before the cap
    start: str | None = None


def shorten(text: str, limit: int = LABEL_CHARS) -> str:
    """``text`` cut in the middle with an ellipsis when longer than ``limit`` characters."""
    if len(text) <= limit:
        return text
    head = (limit - 1) * 2 // 3
    return text[:head] + "…" + text[len(text) - (limit - 1 - head) :]


def _record_node(node_id: str, record: Any, start: Any) -> DisplayNode:
    is_start = type(record) is type(start) and record.id == start.id
    if isinstance(record, Artifact):
        subtitle = f"v{record.version}" + (f" · {record.hash[:7]}" if record.hash else "")
        details = {"size": human_size(record.size), "location": record.location}
        return DisplayNode(f"artifact:{record.uid}", "artifact", record.key or record.uid, subtitle, record.uid,
                           start=is_start, details=details)  # fmt: skip
    if isinstance(record, Collection):
        subtitle = f"v{record.version} · {record.n_artifacts} artifacts"
        return DisplayNode(f"collection:{record.uid}", "collection", record.key, subtitle, record.uid, start=is_start)
    assert isinstance(record, Run)
    details = {name: _short_value(value) for name, value in list((record.params or {}).items())[:MAX_DETAILS]}
    if record.error:
        details["error"] = shorten(record.error.strip().splitlines()[-1], 160)
    key = record.transform.key
    title = record.name or key
    short_key = key if len(key) <= 28 else "…" + key[-27:]  # the end of a key says most: .../Snakefile/count
    subtitle = record.status if title == key else f"{record.status} · {short_key}"
    return DisplayNode(f"run:{record.uid}", "run", title, subtitle, record.uid, record.status, start=is_start,
                       details=details)  # fmt: skip


def _short_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return shorten(text, 80)


def _common_label(titles: list[str]) -> str:
    first, last = min(titles), max(titles)
    prefix = 0
    while prefix < min(len(first), len(last)) and first[prefix] == last[prefix]:
        prefix += 1
    suffix = 0
    ends = [t[prefix:] for t in titles]
    while all(len(e) > suffix for e in ends) and len({e[len(e) - suffix - 1] for e in ends}) == 1:
        suffix += 1
    head, tail = titles[0][:prefix], titles[0][len(titles[0]) - suffix :] if suffix else ""
    return f"{head}*{tail}" if head or tail else "artifacts"


def _group(nodes: dict[str, DisplayNode], edges: set[tuple[str, str]], transform_of: dict[str, str],
           open_groups: set[str], group_above: int) -> tuple[dict[str, DisplayNode], set[tuple[str, str]]]:  # fmt: skip
    by_transform: dict[str, list[str]] = defaultdict(list)
    for node_id, node in nodes.items():
        if node.kind == "run" and not node.start:
            by_transform[transform_of[node_id]].append(node_id)
    alias: dict[str, str] = {}
    grouped: dict[str, DisplayNode] = {}
    for transform_key, members in by_transform.items():
        group_id = "group:" + hashlib.sha1(f"runs\0{transform_key}".encode()).hexdigest()[:12]
        if len(members) <= group_above or group_id in open_groups:
            continue
        failed = sum(nodes[m].status in FAILED for m in members)
        statuses = {nodes[m].status for m in members}
        status = "failed" if failed else (statuses.pop() if len(statuses) == 1 else "mixed")
        subtitle = f"{len(members)} runs" + (f" · {failed} failed" if failed else "")
        grouped[group_id] = DisplayNode(group_id, "group", f"{shorten(transform_key, 28)} × {len(members)}", subtitle,
                                        status=status, members=sorted(members), failed=failed,
                                        member_titles=sorted(nodes[m].title for m in members)[:200])  # fmt: skip
        alias.update(dict.fromkeys(members, group_id))
    if not grouped:
        return nodes, edges

    # Artifacts linked the same way to the same groups (the 24 outputs of `count`) group too.
    preds: dict[str, set[str]] = defaultdict(set)
    succs: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        succs[a].add(alias.get(b, b))
        preds[b].add(alias.get(a, a))
    by_signature: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for node_id, node in nodes.items():
        if node.kind == "artifact" and not node.start:
            linked = preds[node_id] | succs[node_id]
            if linked and any(n in grouped for n in linked):
                by_signature[(tuple(sorted(preds[node_id])), tuple(sorted(succs[node_id])))].append(node_id)
    for signature, members in by_signature.items():
        group_id = "group:" + hashlib.sha1(repr(signature).encode()).hexdigest()[:12]
        if len(members) <= group_above or group_id in open_groups:
            continue
        title = _common_label([nodes[m].title for m in members])
        grouped[group_id] = DisplayNode(group_id, "group", f"{shorten(title, 28)} × {len(members)}",
                                        f"{len(members)} artifacts", members=sorted(members),
                                        member_titles=sorted(nodes[m].title for m in members)[:200])  # fmt: skip
        alias.update(dict.fromkeys(members, group_id))

    kept = {n: node for n, node in nodes.items() if n not in alias} | grouped
    mapped = {(alias.get(a, a), alias.get(b, b)) for a, b in edges}
    return kept, {(a, b) for a, b in mapped if a != b}


def _cap(nodes: dict[str, DisplayNode], edges: set[tuple[str, str]], start: str | None, max_nodes: int) -> set[str]:
    """The ``max_nodes`` nodes nearest the start (breadth-first, both directions)."""
    if len(nodes) <= max_nodes:
        return set(nodes)
    adjacent: dict[str, list[str]] = defaultdict(list)
    for a, b in sorted(edges):
        adjacent[a].append(b)
        adjacent[b].append(a)
    seeds = [start] if start in nodes else []
    kept: dict[str, None] = {}
    queue = deque(seeds)
    for node_id in [*seeds, *sorted(nodes)]:
        if node_id in kept:
            continue
        queue.append(node_id)
        while queue and len(kept) < max_nodes:
            current = queue.popleft()
            if current in kept:
                continue
            kept[current] = None
            queue.extend(n for n in adjacent[current] if n not in kept)
        if len(kept) >= max_nodes:
            break
    return set(kept)


def display_graph(graph: LineageGraph, *, group_above: int = GROUP_ABOVE, max_nodes: int = MAX_NODES,
                  open_groups: set[str] | frozenset[str] = frozenset()) -> DisplayGraph:  # fmt: skip
    """Nodes and edges to draw for ``graph``: labelled, grouped beyond ``group_above`` runs of one
    transform (unless the group's id is in ``open_groups``), capped at ``max_nodes``."""
    nodes: dict[str, DisplayNode] = {}
    ids: dict[str, str] = {}
    transform_of: dict[str, str] = {}
    start_id = None
    for node_id in graph.node_ids:
        record = graph.node(node_id)
        node = _record_node(node_id, record, graph.start)
        nodes[node.id] = node
        ids[node_id] = node.id
        if isinstance(record, Run):
            transform_of[node.id] = record.transform.key
        if node.start:
            start_id = node.id
    edges = {(ids[a], ids[b]) for a, b in graph.edges if a in ids and b in ids}
    if start_id is None:  # a transform: its runs are the start
        start_id = next((n for n in sorted(nodes) if n.startswith("run:")), None)
    nodes, edges = _group(nodes, edges, transform_of, set(open_groups), group_above)
    if start_id not in nodes:
        start_id = next((g for g, node in nodes.items() if start_id in node.members), start_id)
    kept = _cap(nodes, edges, start_id, max_nodes)
    for a, b in edges:
        if (a in kept) != (b in kept):
            nodes[a if a in kept else b].more += 1
    shown = [nodes[n] for n in sorted(kept, key=lambda n: (nodes[n].kind, nodes[n].title, n))]
    return DisplayGraph(shown, sorted((a, b) for a, b in edges if a in kept and b in kept),
                        hidden=len(nodes) - len(kept), total=len(nodes), start=start_id)  # fmt: skip


def node_size(node: DisplayNode) -> tuple[float, float]:
    """Width and height of a node's box, from its longest label line."""
    chars = max(len(shorten(node.title)), len(shorten(node.subtitle)))
    return max(90.0, chars * CHAR_WIDTH + 28), NODE_HEIGHT


def layout_json(display: DisplayGraph) -> dict[str, Any]:
    """The display graph with positions: what the SVG writer and the browser both draw."""
    layout = layered_layout({n.id: node_size(n) for n in display.nodes}, display.edges)
    nodes = []
    for node in display.nodes:
        box = layout.boxes[node.id]
        entry = dict(vars(node)) | {"x": round(box.x, 1), "y": round(box.y, 1), "w": round(box.width, 1), "h": box.height}
        entry["label"], entry["sublabel"] = shorten(node.title), shorten(node.subtitle)
        nodes.append(entry)
    edges = [{"source": a, "target": b, "points": [[round(x, 1), round(y, 1)] for x, y in points]}
             for a, b, points in layout.routes]  # fmt: skip
    return {"nodes": nodes, "edges": edges, "width": round(layout.width, 1), "height": round(layout.height, 1),
            "hidden": display.hidden, "total": display.total, "start": display.start}  # fmt: skip


def merge(graphs: list[LineageGraph]) -> LineageGraph:
    """One graph holding the nodes and edges of several (the first one's start and direction)."""
    first = graphs[0]
    merged = LineageGraph(start=first.start, direction=first.direction, depth=first.depth, instance=first.instance)
    edges: set[tuple[str, str]] = set()
    for g in graphs:
        merged.artifact_ids |= g.artifact_ids
        merged.run_ids |= g.run_ids
        merged.collection_ids |= g.collection_ids
        edges.update(g.edges)
        merged._records.update(g._records)
    merged.edges = sorted(edges)
    return merged


__all__ = ["DisplayGraph", "DisplayNode", "display_graph", "layout_json", "merge", "node_size", "shorten"]
