"""Marquez's job/dataset lineage graph and column-level lineage, built on the registry's graph.

The registry links runs and artifact versions; Marquez shows jobs and datasets. Runs collapse into
their job and versions into their dataset, so the recursive SQL walk of :mod:`flowtrail.core.lineage`
does the work and this module only renames the nodes.
"""

from __future__ import annotations

from typing import Any

from ...core.errors import DoesNotExist
from ...core.lineage import graph
from ...core.models import Artifact, Run
from .marquez import Views


def parse_node_id(views: Views, node_id: str) -> tuple[str, str, str]:
    """``(kind, namespace, name)`` from ``dataset:NS:NAME`` / ``job:NS:NAME``; NS may hold colons."""
    kind, sep, rest = node_id.partition(":")
    if kind not in ("dataset", "job") or not sep or ":" not in rest:
        raise ValueError(f"nodeId must look like dataset:NAMESPACE:NAME or job:NAMESPACE:NAME, got {node_id!r}")
    known = sorted(views.namespace_names(), key=len, reverse=True)
    for namespace in known:
        if rest.startswith(namespace + ":"):
            return kind, namespace, rest[len(namespace) + 1 :]
    # An unknown namespace: split after the scheme and authority if it looks like a URL.
    if "://" in rest:
        scheme, _, tail = rest.partition("://")
        authority, _, name = tail.partition(":")
        return kind, f"{scheme}://{authority}", name
    namespace, _, name = rest.partition(":")
    return kind, namespace, name


def _start(views: Views, kind: str, namespace: str, name: str) -> Any:
    if kind == "job":
        return views.transform(namespace, name)
    return views.artifact(namespace, name)[0]


def lineage_graph(views: Views, node_id: str, depth: int) -> list[dict[str, Any]]:
    kind, namespace, name = parse_node_id(views, node_id)
    start = _start(views, kind, namespace, name)
    found = graph(start, "both", depth, instance=views.instance)
    nodes: dict[str, dict[str, Any]] = {}

    def node_of(record: Any) -> str:
        if isinstance(record, Artifact):
            ns, dataset = views.dataset_id(record)
            node = f"dataset:{ns}:{dataset}"
            if node not in nodes:
                latest = record if record.is_latest else views.artifact(ns, dataset)[0]
                nodes[node] = {"id": node, "type": "DATASET", "data": views.dataset_json(latest),
                               "inEdges": [], "outEdges": []}  # fmt: skip
        else:
            transform = record.transform if isinstance(record, Run) else record
            ns = views.job_namespace(transform)
            node = f"job:{ns}:{transform.key}"
            if node not in nodes:
                nodes[node] = {"id": node, "type": "JOB", "data": views.job_json(transform), "inEdges": [], "outEdges": []}
        return node

    node_of(start)
    for node_key in found.node_ids:
        node_of(found.node(node_key))
    seen: set[tuple[str, str]] = set()
    for source, target in found.edges:
        origin, destination = node_of(found.node(source)), node_of(found.node(target))
        if (origin, destination) in seen or origin == destination:
            continue
        seen.add((origin, destination))
        edge = {"origin": origin, "destination": destination}
        nodes[origin]["outEdges"].append(edge)
        nodes[destination]["inEdges"].append(edge)
    return sorted(nodes.values(), key=lambda n: n["id"])


def column_lineage_graph(views: Views, node_id: str, depth: int) -> list[dict[str, Any]]:
    """Field-level lineage from the columnLineage facets, walking upstream up to ``depth`` datasets."""
    kind, namespace, name = parse_node_id(views, node_id)
    if kind != "dataset":
        raise ValueError("column lineage starts at a dataset: nodeId=dataset:NAMESPACE:NAME")
    nodes: dict[str, dict[str, Any]] = {}

    def field_node(ns: str, dataset: str, field: str, info: dict[str, Any] | None = None) -> dict[str, Any]:
        node = f"datasetField:{ns}:{dataset}:{field}"
        if node not in nodes:
            nodes[node] = {"id": node, "type": "DATASET_FIELD",
                           "data": {"namespace": ns, "dataset": dataset, "field": field, **(info or {})},
                           "inEdges": [], "outEdges": []}  # fmt: skip
        return nodes[node]

    frontier = [(namespace, name)]
    visited: set[tuple[str, str]] = set()
    for _level in range(max(depth, 1)):
        next_frontier = []
        for ns, dataset in frontier:
            if (ns, dataset) in visited:
                continue
            visited.add((ns, dataset))
            try:
                artifact = views.artifact(ns, dataset)[0]
            except DoesNotExist:
                if (ns, dataset) == (namespace, name):
                    raise
                continue
            lineage = (artifact.facets or {}).get("columnLineage") or {}
            for field, spec in (lineage.get("fields") or {}).items():
                target = field_node(ns, dataset, field, {
                    "transformationDescription": spec.get("transformationDescription"),
                    "transformationType": spec.get("transformationType"),
                })  # fmt: skip
                for source in spec.get("inputFields") or []:
                    origin = field_node(source["namespace"], source["name"], source["field"])
                    edge = {"origin": origin["id"], "destination": target["id"]}
                    if edge not in target["inEdges"]:
                        target["inEdges"].append(edge)
                        origin["outEdges"].append(edge)
                    next_frontier.append((source["namespace"], source["name"]))
        frontier = next_frontier
        if not frontier:
            break
    return sorted(nodes.values(), key=lambda n: n["id"])
