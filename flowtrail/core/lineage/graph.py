"""Lineage graph queries: upstream and downstream closures in one recursive SQL statement.

The graph is bipartite: an artifact is *read by* runs (``run_input``) and *made by* its producer
(``artifact.run_id``) and every run linked to it as an output (``run_output``: a rerun that made
the same bytes, a task forwarding a file). A closure walks artifact -> making runs -> their inputs
(upstream) or artifact -> reading runs -> their outputs (downstream) with ``WITH RECURSIVE``, which SQLite
and PostgreSQL both run with index lookups, so the cost follows the size of the answer rather than
the size of the registry. ``UNION`` (not ``UNION ALL``) stops cycles, e.g. a run that reads and
rewrites the same key. The same statement returns the edges, and records are loaded only when
asked for (``graph.artifacts``, ``graph.runs``), one query per kind, as rows that become ORM
objects only when more than their columns is used (see :mod:`.lineage_records`).

``depth`` counts runs: ``depth=1`` upstream of an artifact is its producing run and that run's
inputs.

A collection is a node of its own, linked to each member by an edge ``artifact -> collection``
(membership, in both directions). Its upstream graph is the collection, its members and their
upstream closure; its downstream graph is the collection, its members, the runs that read any
member and everything downstream of those: the members are the walk's seeds. The run a
collection was saved in is not part of the graph (``describe()`` shows it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select, text

from flowtrail.core.db.context import current
from flowtrail.core.errors import FlowtrailError
from flowtrail.core.lineage.records import RowBatch
from flowtrail.core.models import Artifact, Collection, Run, Transform, collection_artifact, run_input, run_output
from flowtrail.core.util.frames import fetch_sql

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance

Direction = Literal["up", "down", "both"]
_MODELS = {"artifact": Artifact, "run": Run, "collection": Collection}
Way = Literal["up", "down"]
CHUNK = 500

# An artifact's makers are its producer (``artifact.run_id``) and every run linked to it in
# ``run_output`` (reruns, forwarding tasks). The recursive step may name ``walk`` only once (a
# PostgreSQL rule), so both kinds of edge are reached in one SELECT: a LEFT JOIN on the links and
# an index lookup on either run id.
_STEP = {
    "up": "SELECT ri.artifact_id{next} FROM walk JOIN artifact a ON a.id = walk.id "
    "LEFT JOIN run_output ro ON ro.artifact_id = a.id "
    "JOIN run_input ri ON ri.run_id IN (a.run_id, ro.run_id){where}",
    "down": "SELECT o.id{next} FROM walk JOIN run_input ri ON ri.artifact_id = walk.id "
    "LEFT JOIN run_output ro ON ro.run_id = ri.run_id "
    "JOIN artifact o ON o.run_id = ri.run_id OR o.id = ro.artifact_id{where}",
}
# What each reached artifact contributes: its making runs and their inputs (up), or the runs
# reading it and their outputs (down), as (artifact, depth, run, other artifact) rows.
_EDGES = {
    "up": "SELECT reached.id, reached.depth, a.run_id, ri.artifact_id FROM reached "
    "JOIN artifact a ON a.id = reached.id LEFT JOIN run_input ri ON ri.run_id = a.run_id "
    "UNION ALL SELECT reached.id, reached.depth, ro.run_id, ri.artifact_id FROM reached "
    "JOIN run_output ro ON ro.artifact_id = reached.id LEFT JOIN run_input ri ON ri.run_id = ro.run_id",
    "down": "SELECT reached.id, reached.depth, ri.run_id, o.id FROM reached "
    "LEFT JOIN run_input ri ON ri.artifact_id = reached.id LEFT JOIN artifact o ON o.run_id = ri.run_id "
    "UNION ALL SELECT reached.id, reached.depth, ri.run_id, ro.artifact_id FROM reached "
    "JOIN run_input ri ON ri.artifact_id = reached.id JOIN run_output ro ON ro.run_id = ri.run_id",
}


def _walk_cte(way: Way, n_seeds: int, limited: bool) -> str:
    seeds = ", ".join(f":s{i}" for i in range(n_seeds))
    if limited:
        step = _STEP[way].format(next=", walk.depth + 1", where=" WHERE walk.depth < :max_depth")
        return (
            f"WITH RECURSIVE walk(id, depth) AS (SELECT id, 0 FROM artifact WHERE id IN ({seeds}) UNION {step}), "
            "reached(id, depth) AS (SELECT id, MIN(depth) FROM walk GROUP BY id) "
        )
    step = _STEP[way].format(next="", where="")
    return (
        f"WITH RECURSIVE walk(id) AS (SELECT id FROM artifact WHERE id IN ({seeds}) UNION {step}), "
        "reached(id, depth) AS (SELECT id, 0 FROM walk) "
    )


def closure_sql(way: Way, n_seeds: int, limited: bool) -> str:
    """The recursive query returning ``(id, depth)`` of every artifact reached from the seeds."""
    return _walk_cte(way, n_seeds, limited) + "SELECT id, depth FROM reached"


def _params(seeds: list[int], depth: int | None) -> dict[str, Any]:
    params: dict[str, Any] = {f"s{i}": seed for i, seed in enumerate(seeds)}
    if depth is not None:
        params["max_depth"] = depth
    return params


def closure(session: Any, seeds: Iterable[int], way: Way, depth: int | None) -> dict[int, int]:
    """Artifact id -> generation for everything reachable from the seed artifacts."""
    seed_list = sorted(set(seeds))
    if not seed_list:
        return {}
    sql = text(closure_sql(way, len(seed_list), depth is not None))
    return {row[0]: row[1] for row in session.execute(sql, _params(seed_list, depth))}


@dataclass
class LineageGraph:
    """Artifacts, runs and transforms around a start node, with the edges between them."""

    start: Any
    direction: Direction
    depth: int | None
    artifact_ids: set[int] = field(default_factory=set)
    run_ids: set[int] = field(default_factory=set)
    collection_ids: set[int] = field(default_factory=set)
    edges: list[tuple[str, str]] = field(default_factory=list)  # ("artifact:1", "run:2"), ...
    instance: Instance | None = field(default=None, repr=False)
    _records: dict[str, Any] = field(default_factory=dict, repr=False)
    _complete: bool = field(default=False, repr=False)  # every node's record is in _records

    def _read_rows(self, session: Any, instance: Instance) -> None:
        # Artifacts and runs: rows read in one query per kind, ORM objects only when asked for.
        records = self._records
        for model, ids, kind in ((Artifact, self.artifact_ids, "artifact"), (Run, self.run_ids, "run")):
            missing = [i for i in ids if f"{kind}:{i}" not in records] if records else ids
            if missing:
                batch = RowBatch(model, instance)
                batch.read(session, missing)
                records.update({f"{kind}:{row_id}": row for row_id, row in batch.rows.items()})

    def _load(self) -> None:
        if self._complete or all(node in self._records for node in self.node_ids):
            self._complete = True
            return

        instance = self.instance or current()
        sessions = instance.sessions
        session = sessions.current()
        try:
            self._read_rows(session, instance)
            missing = [i for i in self.collection_ids if f"collection:{i}" not in self._records]
            for chunk in _chunks(missing):
                for record in session.scalars(select(Collection).where(Collection.id.in_(chunk))):
                    self._records[f"collection:{record.id}"] = record
        finally:
            sessions.end_read()
        self._complete = True

    @property
    def artifacts(self) -> list[Artifact]:
        """The artifacts in the graph (excluding the start node), ordered by id."""
        self._load()
        records, skip = self._records, self._start_id("artifact")
        return [records[f"artifact:{i}"] for i in sorted(self.artifact_ids) if i != skip]

    @property
    def runs(self) -> list[Run]:
        """The runs in the graph (excluding the start node), ordered by id."""
        self._load()
        records, skip = self._records, self._start_id("run")
        return [records[f"run:{i}"] for i in sorted(self.run_ids) if i != skip]

    @property
    def transforms(self) -> list[Transform]:
        """The transforms of the graph's runs, each once."""
        self._load()
        seen: dict[int, Transform] = {}
        for run_id in sorted(self.run_ids):
            transform = self._records[f"run:{run_id}"].transform
            seen.setdefault(transform.id, transform)
        return list(seen.values())

    @property
    def collections(self) -> list[Collection]:
        """The collections in the graph (excluding the start node), ordered by id."""
        self._load()
        ids = sorted(self.collection_ids)
        return [self._records[f"collection:{i}"] for i in ids if not self._is_start("collection", i)]

    def _start_id(self, kind: str) -> int | None:
        return self.start.id if isinstance(self.start, _MODELS[kind]) else None

    def _is_start(self, kind: str, record_id: int) -> bool:
        return record_id == self.start.id and isinstance(self.start, _MODELS[kind])

    def node(self, node_id: str) -> Any:
        """The Artifact, Run or Collection behind ``"artifact:ID"`` / ``"run:ID"`` / ``"collection:ID"``."""
        if node_id not in self._records:  # loads every missing record at once; then each lookup is O(1)
            self._load()
        return self._records[node_id]

    @property
    def node_ids(self) -> list[str]:
        return (
            [f"artifact:{i}" for i in sorted(self.artifact_ids)]
            + [f"run:{i}" for i in sorted(self.run_ids)]
            + [f"collection:{i}" for i in sorted(self.collection_ids)]
        )

    def __len__(self) -> int:
        return len(self.artifact_ids) + len(self.run_ids) + len(self.collection_ids)


def _seed(session: Any, node: Any, way: Way) -> tuple[set[int], set[int], set[tuple[str, str]]]:
    """Seed artifacts, the start runs, and the edges between them, for a start node."""
    if isinstance(node, Artifact):
        return {node.id}, set(), set()
    if isinstance(node, Collection):  # the members are the seeds in both directions
        query = select(collection_artifact.c.artifact_id).where(collection_artifact.c.collection_id == node.id)
        members = set(session.scalars(query))
        return members, set(), {(f"artifact:{i}", f"collection:{node.id}") for i in members}
    runs = [node.id] if isinstance(node, Run) else list(session.scalars(select(Run.id).where(Run.transform_id == node.id)))
    seeds: set[int] = set()
    edges: set[tuple[str, str]] = set()
    for chunk in _chunks(runs):
        if way == "up":
            rows = session.execute(select(run_input.c.artifact_id, run_input.c.run_id).where(run_input.c.run_id.in_(chunk)))
            for artifact_id, run_id in rows:
                seeds.add(artifact_id)
                edges.add((f"artifact:{artifact_id}", f"run:{run_id}"))
        else:
            produced = session.execute(select(Artifact.id, Artifact.run_id).where(Artifact.run_id.in_(chunk)))
            linked = session.execute(select(run_output.c.artifact_id, run_output.c.run_id).where(run_output.c.run_id.in_(chunk)))
            for artifact_id, run_id in [*produced, *linked]:
                seeds.add(artifact_id)
                edges.add((f"run:{run_id}", f"artifact:{artifact_id}"))
    return seeds, set(runs), edges


def _walk(session: Any, result: LineageGraph, node: Any, way: Way, depth: int | None, edges: set[tuple[str, str]]) -> None:
    seeds, start_runs, start_edges = _seed(session, node, way)
    result.run_ids |= start_runs
    edges |= start_edges
    inner = depth
    if start_runs:  # the start run(s) used one generation already
        if depth == 0:
            return
        inner = None if depth is None else depth - 1
    seed_list = sorted(seeds)
    if not seed_list:
        return
    sql = _walk_cte(way, len(seed_list), inner is not None) + _EDGES[way]
    for artifact_id, generation, run_id, other_id in fetch_sql(session, sql, _params(seed_list, inner)):
        result.artifact_ids.add(artifact_id)
        if run_id is None or (inner is not None and generation >= inner):
            continue
        result.run_ids.add(run_id)
        if way == "up":
            edges.add((f"run:{run_id}", f"artifact:{artifact_id}"))
            if other_id is not None:
                result.artifact_ids.add(other_id)
                edges.add((f"artifact:{other_id}", f"run:{run_id}"))
        else:
            edges.add((f"artifact:{artifact_id}", f"run:{run_id}"))
            if other_id is not None:
                result.artifact_ids.add(other_id)
                edges.add((f"run:{run_id}", f"artifact:{other_id}"))


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


def graph(node: Any, direction: Direction = "up", depth: int | None = None, instance: Instance | None = None) -> LineageGraph:
    """The lineage graph of an artifact, run, transform or collection: nodes plus edges."""
    if direction not in ("up", "down", "both"):
        raise FlowtrailError(f"direction must be 'up', 'down' or 'both', not {direction!r}.")
    if depth is not None and depth < 0:
        raise FlowtrailError(f"depth must be a non-negative number of runs or None, not {depth!r}.")
    if not isinstance(node, Artifact | Run | Transform | Collection) or node.id is None:
        raise FlowtrailError(f"Lineage needs a saved Artifact, Run, Transform or Collection, got {node!r}.")
    inst = instance or current()
    session = inst.sessions.current()
    result = LineageGraph(start=node, direction=direction, depth=depth, instance=inst)
    edges: set[tuple[str, str]] = set()
    try:
        for way in ("up", "down") if direction == "both" else (direction,):
            _walk(session, result, node, way, depth, edges)
        result._read_rows(session, inst)  # in the same read: one more round trip per kind
    finally:
        inst.sessions.end_read()
    if isinstance(node, Artifact):
        result.artifact_ids.add(node.id)
        result._records[f"artifact:{node.id}"] = node
    elif isinstance(node, Run):
        result.run_ids.add(node.id)
        result._records[f"run:{node.id}"] = node
    elif isinstance(node, Collection):
        result.collection_ids.add(node.id)
        result._records[f"collection:{node.id}"] = node
    result.edges = sorted(edges)
    return result


__all__ = ["LineageGraph", "closure", "graph"]
