"""Lineage graph queries: upstream and downstream closures in one recursive SQL query.

The graph is bipartite: an artifact is *read by* runs (``run_input``) and *produced by* one run
(``artifact.run_id``). A closure walks artifact -> producing run -> that run's inputs (upstream)
or artifact -> reading runs -> their outputs (downstream) with ``WITH RECURSIVE``, which SQLite
and PostgreSQL both run with index lookups, so the cost follows the size of the answer rather than
the size of the registry. ``UNION`` (not ``UNION ALL``) stops cycles, e.g. a run that reads and
rewrites the same key.

``depth`` counts runs: ``depth=1`` upstream of an artifact is its producing run and that run's
inputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select, text

from .errors import FlowtrailError
from .models import Artifact, Run, Transform, run_input

if TYPE_CHECKING:
    from .instance import Instance
    from .query import QuerySet

Direction = Literal["up", "down", "both"]
CHUNK = 500

# The recursive step for each direction, over artifact ids. "seed" rows enter at depth 0.
_STEP = {
    "up": (
        "SELECT ri.artifact_id{depth_next} FROM walk "
        "JOIN artifact a ON a.id = walk.id JOIN run_input ri ON ri.run_id = a.run_id{depth_where}"
    ),
    "down": (
        "SELECT a.id{depth_next} FROM walk "
        "JOIN run_input ri ON ri.artifact_id = walk.id JOIN artifact a ON a.run_id = ri.run_id{depth_where}"
    ),
}


def closure_sql(direction: Literal["up", "down"], n_seeds: int, limited: bool) -> str:
    """The recursive query returning ``(id, depth)`` of every artifact reached from the seeds."""
    seeds = ", ".join(f":s{i}" for i in range(n_seeds))
    if limited:
        step = _STEP[direction].format(depth_next=", walk.depth + 1", depth_where=" WHERE walk.depth < :max_depth")
        return (
            f"WITH RECURSIVE walk(id, depth) AS (SELECT id, 0 FROM artifact WHERE id IN ({seeds}) "
            f"UNION {step}) SELECT id, MIN(depth) FROM walk GROUP BY id"
        )
    step = _STEP[direction].format(depth_next="", depth_where="")
    return (
        f"WITH RECURSIVE walk(id) AS (SELECT id FROM artifact WHERE id IN ({seeds}) UNION {step}) "
        "SELECT id, 0 FROM walk"
    )


@dataclass
class LineageGraph:
    """Artifacts, runs and transforms around a start node, with the edges between them."""

    start: Any
    direction: Direction
    depth: int | None
    artifact_ids: set[int] = field(default_factory=set)
    run_ids: set[int] = field(default_factory=set)
    edges: list[tuple[str, str]] = field(default_factory=list)  # ("artifact:1", "run:2"), ...
    _records: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def artifacts(self) -> list[Artifact]:
        """The artifacts in the graph (excluding the start node), ordered by id."""
        return [self._records[f"artifact:{i}"] for i in sorted(self.artifact_ids) if not self._is_start("artifact", i)]

    @property
    def runs(self) -> list[Run]:
        """The runs in the graph (excluding the start node), ordered by id."""
        return [self._records[f"run:{i}"] for i in sorted(self.run_ids) if not self._is_start("run", i)]

    @property
    def transforms(self) -> list[Transform]:
        """The transforms of the graph's runs, each once."""
        seen: dict[int, Transform] = {}
        for run_id in sorted(self.run_ids):
            transform = self._records[f"run:{run_id}"].transform
            seen.setdefault(transform.id, transform)
        return list(seen.values())

    def _is_start(self, kind: str, record_id: int) -> bool:
        return isinstance(self.start, Artifact if kind == "artifact" else Run) and self.start.id == record_id

    def node(self, node_id: str) -> Any:
        return self._records[node_id]

    @property
    def node_ids(self) -> list[str]:
        return [f"artifact:{i}" for i in sorted(self.artifact_ids)] + [f"run:{i}" for i in sorted(self.run_ids)]

    def __len__(self) -> int:
        return len(self.artifact_ids) + len(self.run_ids)


def _seed_artifacts(session: Any, node: Any, direction: Literal["up", "down"]) -> tuple[set[int], set[int]]:
    """Artifact seeds and the runs that belong to the graph because they are (part of) the start node."""
    if isinstance(node, Artifact):
        return {node.id}, set()
    runs = [node.id] if isinstance(node, Run) else list(session.scalars(select(Run.id).where(Run.transform_id == node.id)))
    if not runs:
        return set(), set()
    if direction == "up":
        query = select(run_input.c.artifact_id).where(run_input.c.run_id.in_(runs))
    else:
        query = select(Artifact.id).where(Artifact.run_id.in_(runs))
    return set(session.scalars(query)), set(runs)


def closure(
    session: Any, seeds: Iterable[int], direction: Literal["up", "down"], depth: int | None
) -> dict[int, int]:
    """Artifact id -> generation for everything reachable from the seed artifacts."""
    seed_list = sorted(set(seeds))
    if not seed_list:
        return {}
    sql = text(closure_sql(direction, len(seed_list), depth is not None))
    params: dict[str, Any] = {f"s{i}": seed for i, seed in enumerate(seed_list)}
    if depth is not None:
        params["max_depth"] = depth
    return {row[0]: row[1] for row in session.execute(sql, params)}


def graph(node: Any, direction: Direction = "up", depth: int | None = None, instance: Instance | None = None) -> LineageGraph:
    """The lineage graph of an artifact, run or transform: nodes plus edges."""
    from .instance import current

    if direction not in ("up", "down", "both"):
        raise FlowtrailError(f"direction must be 'up', 'down' or 'both', not {direction!r}.")
    if depth is not None and depth < 0:
        raise FlowtrailError(f"depth must be a non-negative number of runs or None, not {depth!r}.")
    if not isinstance(node, Artifact | Run | Transform) or node.id is None:
        raise FlowtrailError(f"Lineage needs a saved Artifact, Run or Transform, got {node!r}.")
    inst = instance or current()
    session = inst.sessions.current()
    try:
        result = LineageGraph(start=node, direction=direction, depth=depth)
        for way in ("up", "down") if direction == "both" else (direction,):
            _walk(session, result, node, way, depth)  # type: ignore[arg-type]
        _load(session, result, node)
    finally:
        inst.sessions.end_read()
    return result


def _walk(session: Any, result: LineageGraph, node: Any, way: Literal["up", "down"], depth: int | None) -> None:
    seeds, start_runs = _seed_artifacts(session, node, way)
    result.run_ids |= start_runs
    inner_depth = depth
    if start_runs:  # the start run(s) used one generation already
        if depth == 0:
            return
        inner_depth = None if depth is None else depth - 1
    reached = closure(session, seeds, way, inner_depth)
    result.artifact_ids |= set(reached)
    # Runs between the reached artifacts: upstream the producers, downstream the readers,
    # of every artifact not at the depth limit.
    expandable = [i for i, d in reached.items() if inner_depth is None or d < inner_depth]
    for chunk in _chunks(expandable):
        if way == "up":
            query = select(Artifact.run_id).where(Artifact.id.in_(chunk), Artifact.run_id.is_not(None))
        else:
            query = select(run_input.c.run_id).where(run_input.c.artifact_id.in_(chunk))
        result.run_ids |= set(session.scalars(query))


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


def _load(session: Any, result: LineageGraph, node: Any) -> None:
    if isinstance(node, Artifact):
        result.artifact_ids.add(node.id)
    elif isinstance(node, Run):
        result.run_ids.add(node.id)
    edges: set[tuple[str, str]] = set()
    for chunk in _chunks(result.run_ids):
        for artifact in session.scalars(select(Artifact).where(Artifact.run_id.in_(chunk))):
            if artifact.id in result.artifact_ids:
                edges.add((f"run:{artifact.run_id}", f"artifact:{artifact.id}"))
        rows = session.execute(select(run_input.c.artifact_id, run_input.c.run_id).where(run_input.c.run_id.in_(chunk)))
        for artifact_id, run_id in rows:
            if artifact_id in result.artifact_ids:
                edges.add((f"artifact:{artifact_id}", f"run:{run_id}"))
    for chunk in _chunks(result.artifact_ids):
        for artifact in session.scalars(select(Artifact).where(Artifact.id.in_(chunk))):
            result._records[f"artifact:{artifact.id}"] = artifact
    for chunk in _chunks(result.run_ids):
        for run in session.scalars(select(Run).where(Run.id.in_(chunk))):
            result._records[f"run:{run.id}"] = run
    result.edges = sorted(edges)


def upstream_artifacts(node: Any, depth: int | None = None) -> QuerySet[Artifact]:
    """A query set of the artifacts upstream of ``node`` (not including it)."""
    found = graph(node, "up", depth)
    return Artifact.filter(id__in=sorted(a.id for a in found.artifacts))


def downstream_artifacts(node: Any, depth: int | None = None) -> QuerySet[Artifact]:
    """A query set of the artifacts downstream of ``node`` (not including it)."""
    found = graph(node, "down", depth)
    return Artifact.filter(id__in=sorted(a.id for a in found.artifacts))


__all__ = ["LineageGraph", "closure", "downstream_artifacts", "graph", "upstream_artifacts"]
