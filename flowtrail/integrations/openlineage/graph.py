"""Marquez's job/dataset lineage graph and column-level lineage.

The registry links runs and artifact versions; Marquez shows jobs and datasets. Runs collapse into
their job and versions into their dataset (a storage and a key), and the graph grows a level at a
time with one query per direction, as Marquez's own lineage query does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, cast, select, tuple_

from flowtrail.core.errors import DoesNotExist
from flowtrail.core.models import Artifact, Run, Transform
from flowtrail.integrations.openlineage import marquez_models as m
from flowtrail.integrations.openlineage.marquez import Views


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


Family = tuple[int, str]  # a dataset: (storage id, key); its versions are artifacts
MAX_NODES = 5000  # a lineage answer stops growing here (Marquez's UI cannot draw more anyway)


def _static(views: Views, transform_ids: set[int] | None = None) -> list[tuple[int, str, Family]]:
    """``(job id, "inputs"|"outputs", dataset)`` a JobEvent declared; for the jobs given, or all."""
    query = select(Transform.id, Transform.facets).where(
        cast(Transform.facets, String).like("%flowtrail_static_lineage%")
    )
    if transform_ids is not None:
        query = query.where(Transform.id.in_(transform_ids))
    found = []
    for transform_id, facets in views.session.execute(query):
        declared = (facets or {}).get("flowtrail_static_lineage") or {}
        for side in ("inputs", "outputs"):
            for dataset in declared.get(side) or []:
                try:
                    found.append((transform_id, side, views.family(dataset["namespace"], dataset["name"])))
                except (DoesNotExist, KeyError, TypeError):
                    continue
    return found


def _io_of_jobs(views: Views, job_ids: set[int]) -> list[tuple[int, str, Family]]:
    """Every dataset any run of these jobs read or wrote (any version), and what JobEvents declared."""
    wrote = select(Run.transform_id, Artifact.storage_id, Artifact.key).join(Run, Artifact.run_id == Run.id).where(
        Run.transform_id.in_(job_ids), Artifact.key.is_not(None)
    ).distinct()
    read = select(Run.transform_id, Artifact.storage_id, Artifact.key).select_from(Run).join(Run.inputs).where(
        Run.transform_id.in_(job_ids), Artifact.key.is_not(None)
    ).distinct()
    found = [(j, "outputs", (s, k)) for j, s, k in views.session.execute(wrote)]
    found += [(j, "inputs", (s, k)) for j, s, k in views.session.execute(read)]
    return found + _static(views, job_ids)


def _jobs_of_datasets(views: Views, families: set[Family], static: list[tuple[int, str, Family]]) -> list[tuple[int, str, Family]]:
    """Every job whose runs wrote or read any version of these datasets, or that declared them."""
    pairs = tuple_(Artifact.storage_id, Artifact.key).in_(sorted(families))
    wrote = select(Run.transform_id, Artifact.storage_id, Artifact.key).join(Run, Artifact.run_id == Run.id).where(pairs).distinct()
    read = select(Run.transform_id, Artifact.storage_id, Artifact.key).select_from(Run).join(Run.inputs).where(pairs).distinct()
    found = [(j, "outputs", (s, k)) for j, s, k in views.session.execute(wrote)]
    found += [(j, "inputs", (s, k)) for j, s, k in views.session.execute(read)]
    return found + [row for row in static if row[2] in families]


def lineage_graph(views: Views, node_id: str, depth: int) -> m.LineageGraph:
    """Marquez's lineage: breadth-first from the node to ``depth`` jobs away, through every job that
    reads or writes a dataset found (siblings included), every version of each dataset, and the
    inputs and outputs JobEvents declared."""
    kind, namespace, name = parse_node_id(views, node_id)
    edges: set[tuple[int, str, Family]] = set()  # (job, side, dataset)
    jobs: set[int] = set()
    families: set[Family] = set()
    static = _static(views)
    if kind == "job":
        new_jobs, new_families = {views.transform(namespace, name).id}, set()
    else:
        start = views.family(namespace, name)
        views.artifact(namespace, name)  # 404 unless a version exists
        new_jobs, new_families = set(), {start}
    for _level in range(depth + 1):
        if new_families:
            families |= new_families
            found = _jobs_of_datasets(views, new_families, static)
            edges.update(found)
            new_jobs |= {j for j, _side, _f in found} - jobs
            new_families = set()
        if not new_jobs or len(jobs) + len(families) > MAX_NODES:
            break
        jobs |= new_jobs
        found = _io_of_jobs(views, new_jobs)
        edges.update(found)
        new_families = {f for _j, _side, f in found} - families
        new_jobs = set()
    families |= new_families
    return _assemble(views, jobs, families, {e for e in edges if e[0] in jobs and e[2] in families})


def _assemble(views: Views, jobs: set[int], families: set[Family], edges: set[tuple[int, str, Family]]) -> m.LineageGraph:
    nodes: dict[Any, m.LineageNode] = {}
    for transform in views.session.scalars(select(Transform).where(Transform.id.in_(jobs))):
        ns = views.job_namespace(transform)
        node = f"job:{ns}:{transform.key}"
        nodes[transform.id] = m.LineageNode(id=node, type="JOB", data=views.job_model(transform, runs=0), inEdges=[], outEdges=[])
    for family in sorted(families):
        latest = views.session.scalars(
            select(Artifact).where(Artifact.storage_id == family[0], Artifact.key == family[1])
            .order_by(Artifact.is_latest.desc(), Artifact.version.desc()).limit(1)
        ).first()
        if latest is None:
            continue
        ns, dataset = views.dataset_id(latest)
        nodes[family] = m.LineageNode(id=f"dataset:{ns}:{dataset}", type="DATASET", data=views.dataset_model(latest),
                                      inEdges=[], outEdges=[])  # fmt: skip
    for job, side, family in sorted(edges, key=repr):
        if job not in nodes or family not in nodes:
            continue
        origin, destination = (nodes[job], nodes[family]) if side == "outputs" else (nodes[family], nodes[job])
        edge = m.Edge(origin=origin.id, destination=destination.id)
        origin.outEdges.append(edge)
        destination.inEdges.append(edge)
    return m.LineageGraph(graph=sorted(nodes.values(), key=lambda n: n.id))


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
