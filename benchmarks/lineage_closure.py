"""Benchmark: upstream/downstream lineage closures on a 200-run chain and on generated 10k/100k-run DAGs.

Run with ``python benchmarks/lineage_closure.py`` (about 75 s on a 2-core machine). Every registry
is a fresh SQLite instance made with ``flowtrail.init`` in a temporary folder (removed afterwards)
and filled in bulk with SQLAlchemy Core inserts into ``transform``, ``run``, ``artifact`` and
``run_input``: the rows flowtrail itself writes, with every required column.

Registries:

- chain: 200 runs only, ``artifact_i -> run_i -> artifact_i+1`` (201 artifacts).
- dag-10k and dag-100k: many independent pipelines ("projects") whose runs are interleaved in
  time, so one project's rows are spread over the whole table, as in a shared registry. A project
  is a layered DAG: every run reads 1-3 artifacts from earlier layers (mostly the previous one,
  from nearby lanes, sometimes up to 6 layers back; seeded random) and writes 1-2 artifacts; layer
  0 holds the project's raw input artifacts (no producing run). Both registries hold the same
  "shared" projects (the 200-run chain, an 8,400-run project and smaller ones) plus filler
  projects of 10-5,000 runs up to 10,000 or 100,000 runs in total; the 100k registry also holds an
  18,000-run project for a ~10,000-artifact upstream that does not fit into the 10k registry. The
  same start node thus has the same answer in both registries, and a difference in time comes
  from the registry's size.

Measured per start artifact (warm: untimed calls first, then the median of repeated calls timed
with ``time.perf_counter``; both DAG registries are open at once and take turns in 3 rounds, so
a change in machine load hits both alike):

- closure: the bare recursive query ``flowtrail.core.lineage.graph.closure(session, [id], dir, None)``
  (returns {artifact id: depth}); every answer is checked against a breadth-first walk over the
  generated graph in memory, and the script fails on a wrong answer.
- graph: the full lineage graph with runs, edges and ORM records, touching ``.artifacts``,
  ``.runs`` and ``.edges``: ``artifact.upstream()`` / ``artifact.downstream()`` on the chain (the
  current instance), ``flowtrail.core.lineage.graph.graph(artifact, dir, None, instance)`` (what those
  methods call) on the two DAG registries, which cannot both be the current instance.
- records floor: stdlib ``sqlite3`` on the same database file running the same recursive
  closure-and-edges statement the graph runs, then one ``SELECT *`` per kind (artifacts, runs)
  for the ids it found, as plain tuples. The graph (which reads ``key`` of every artifact and
  ``status`` of every run) is compared with it: target (issue 20) <= 2x at the 200-run chain and
  at ~10,000 nodes.
- baseline (chain only): a Python walk that asks the database one generation at a time:
  artifact -> its producing run -> that run's inputs -> ..., one SQL query per step (what LaminDB
  does; the issue quotes 140-450 ms for this question), once with Core queries and once with ORM
  lazy loads (``artifact.run``, ``run.inputs``) in a fresh session.

Start nodes on the DAGs are picked by answer size (closest to ~10, ~100, ~1,000, ~10,000
artifacts, log scale) from a sample of the shared projects' artifacts; downstream queries start at
raw input artifacts (roots).

Targets (from the issue): upstream closure <= 2 ms on a 200-run chain, <= 50 ms on a generated
100,000-run DAG, and the cost grows with the size of the answer, not of the registry. The table
checks both the bare closure and the full graph against them. The script never fails on a missed
target; it prints the numbers and whether each target is met.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

for _variable in ("FLOWTRAIL_INSTANCE", "FLOWTRAIL_DB_URL", "FLOWTRAIL_STORAGE"):
    os.environ.pop(_variable, None)  # the benchmark must use its own temporary instances

import sqlalchemy  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import flowtrail  # noqa: E402
from flowtrail.core.db import config as cfg  # noqa: E402
from flowtrail.core.db.context import disconnect  # noqa: E402
from flowtrail.core.instance import Instance  # noqa: E402
from flowtrail.core.lineage.graph import _EDGES, _walk_cte, closure, closure_sql  # noqa: E402
from flowtrail.core.lineage.graph import graph as lineage_graph  # noqa: E402
from flowtrail.core.models import Artifact, Run, Transform, run_input  # noqa: E402

SEED = 20240601
CHAIN_RUNS = 200
SMALL_REGISTRY_RUNS = 10_000
LARGE_REGISTRY_RUNS = 100_000
# (lanes, layers) of the shared layered projects (in both DAG registries); the chain is shared too.
SHARED_GRIDS = [(40, 210), (20, 50), (8, 25), (3, 10)]
LARGE_ONLY_GRID = (60, 300)  # an 18,000-run project only in the 100k registry
LARGE_ONLY_TARGET = 10_000
FILLER_RUNS = (10, 5_000)  # filler project sizes, log-uniform
TARGET_SIZES = [10, 100, 1_000, 10_000]  # answer sizes (artifacts) to pick query nodes for
N_CANDIDATES = 400  # sampled artifacts per direction to choose query nodes from
ROUNDS = 3  # alternating measurement rounds per query node
BUDGET_S = 0.45  # timed seconds per query node, registry and method (split over the rounds)
MIN_REPS, MAX_REPS = 2, 150  # per round
TARGET_CHAIN_MS = 2.0
TARGET_DAG_MS = 50.0
LAMINDB_MS = "140-450"
INSERT_BATCH = 20_000
BASE_TIME = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

artifact_table = Artifact.__table__
run_table = Run.__table__
transform_table = Transform.__table__


# -- generated lineage -------------------------------------------------------------------------


@dataclass(eq=False)
class Project:
    """One pipeline's lineage with local indices: runs in topological order."""

    name: str
    n_sources: int
    run_layer: list[int] = field(default_factory=list)
    run_inputs: list[list[int]] = field(default_factory=list)  # local artifact indices
    run_outputs: list[list[int]] = field(default_factory=list)
    producer: list[int] = field(default_factory=list)  # local artifact -> local run, -1 for raw inputs
    n_transforms: int = 1
    shared: bool = False

    @property
    def n_runs(self) -> int:
        return len(self.run_inputs)

    @property
    def n_artifacts(self) -> int:
        return len(self.producer)

    def _new_artifact(self, run: int) -> int:
        self.producer.append(run)
        return len(self.producer) - 1


def chain_project(n_runs: int, name: str = "chain") -> Project:
    project = Project(name, n_sources=1, producer=[-1], n_transforms=1)
    for i in range(n_runs):
        project.run_layer.append(i + 1)
        project.run_inputs.append([i])
        project.run_outputs.append([project._new_artifact(i)])
    return project


def grid_project(rng: random.Random, name: str, lanes: int, layers: int, max_runs: int | None = None) -> Project:
    """A layered DAG: ``lanes`` runs per layer, each reading 1-3 artifacts from nearby lanes of earlier layers."""
    project = Project(name, n_sources=lanes, producer=[-1] * lanes, n_transforms=min(layers, 8))
    outputs_at: list[list[list[int]]] = [[[j] for j in range(lanes)]]
    for layer in range(1, layers + 1):
        row: list[list[int]] = []
        for lane in range(lanes):
            if max_runs is not None and project.n_runs >= max_runs:
                break
            inputs: list[int] = []
            for _ in range(rng.choice((1, 2, 2, 3))):
                source_layer = layer - 1 if rng.random() < 0.7 else rng.randint(max(0, layer - 6), layer - 1)
                candidates = outputs_at[source_layer]
                source_lane = min(len(candidates) - 1, max(0, lane + rng.randint(-2, 2)))
                picked = rng.choice(candidates[source_lane])
                if picked not in inputs:
                    inputs.append(picked)
            run = project.n_runs
            project.run_layer.append(layer)
            project.run_inputs.append(inputs)
            outs = [project._new_artifact(run) for _ in range(1 if rng.random() < 0.6 else 2)]
            project.run_outputs.append(outs)
            row.append(outs)
        if not row:
            break
        outputs_at.append(row)
    return project


def filler_projects(rng: random.Random, total_runs: int, prefix: str) -> list[Project]:
    projects: list[Project] = []
    left = total_runs
    while left > 0:
        size = min(left, int(math.exp(rng.uniform(math.log(FILLER_RUNS[0]), math.log(FILLER_RUNS[1])))))
        lanes = max(1, min(size, round(math.sqrt(size) * rng.uniform(0.4, 2.0))))
        projects.append(grid_project(rng, f"{prefix}{len(projects)}", lanes, math.ceil(size / lanes), max_runs=size))
        left -= projects[-1].n_runs
    return projects


def shared_projects(rng: random.Random) -> list[Project]:
    projects = [chain_project(CHAIN_RUNS)]
    projects += [grid_project(rng, f"shared-{lanes}x{layers}", lanes, layers) for lanes, layers in SHARED_GRIDS]
    for project in projects:
        project.shared = True
    return projects


def walk_local(project: Project, start: int, direction: str) -> set[int]:
    """Reference answer: artifacts reachable from ``start`` (including it), by BFS in memory."""
    if direction == "down":
        readers = project.__dict__.setdefault("_readers", _readers(project))
    seen = {start}
    frontier = [start]
    while frontier:
        artifact = frontier.pop()
        if direction == "up":
            run = project.producer[artifact]
            following = project.run_inputs[run] if run >= 0 else []
        else:
            following = [out for run in readers[artifact] for out in project.run_outputs[run]]
        for nxt in following:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return seen


def _readers(project: Project) -> list[list[int]]:
    readers: list[list[int]] = [[] for _ in range(project.n_artifacts)]
    for run, inputs in enumerate(project.run_inputs):
        for artifact in inputs:
            readers[artifact].append(run)
    return readers


# -- bulk loading ------------------------------------------------------------------------------


@dataclass
class Registry:
    name: str
    root: Path
    instance: Any
    projects: list[Project]
    artifact_ids: list[list[int]]  # project -> local artifact -> artifact.id
    n_runs: int
    n_artifacts: int
    n_inputs: int
    build_s: float
    current: bool = False  # the instance flowtrail.init made current (artifact.upstream() uses it)

    def global_id(self, project: Project, local: int) -> int:
        return self.artifact_ids[self.projects.index(project)][local]


def build_registry(base: Path, name: str, projects: list[Project], rng: random.Random) -> Registry:
    """A fresh instance holding ``projects``, their runs interleaved in time, inserted in bulk."""
    start = time.perf_counter()
    root = base / name
    instance = flowtrail.init(root)
    storage_id = instance.default_storage.id

    # Every project runs over a time window; its runs are spread over the window in order.
    # Sorting all runs by time interleaves the projects (ids of one project are far apart).
    events: list[tuple[float, int, int]] = []
    for p_index, project in enumerate(projects):
        if project.shared:
            begin, end = rng.uniform(0.0, 0.05), rng.uniform(0.95, 1.0)
        else:
            begin = rng.random() * 0.9
            end = begin + rng.uniform(0.02, 1.0 - begin)
        times = sorted(rng.uniform(begin, end) for _ in range(project.n_runs))
        events.append((begin - 1e-9, p_index, -1))  # the raw inputs arrive first
        events += [(t, p_index, r) for r, t in enumerate(times)]
    events.sort()

    transforms: list[dict[str, Any]] = []
    transform_ids: list[int] = []
    for p_index, project in enumerate(projects):
        transform_ids.append(len(transforms) + 1)
        for step in range(project.n_transforms):
            number = len(transforms) + 1
            transforms.append({
                "id": number, "uid": f"T{number:015d}0001", "key": f"{project.name}/step{step}.py", "version": 1,
                "is_latest": True, "type": "script", "hash": f"{number:032x}", "created_at": BASE_TIME,
            })  # fmt: skip

    artifact_ids: list[list[int]] = [[0] * p.n_artifacts for p in projects]
    runs: list[dict[str, Any]] = []
    artifacts: list[dict[str, Any]] = []
    inputs: list[dict[str, Any]] = []

    def add_artifact(p_index: int, local: int, run_id: int | None, when: dt.datetime) -> None:
        number = len(artifacts) + 1
        artifact_ids[p_index][local] = number
        uid = f"A{number:015d}0001"
        artifacts.append({
            "id": number, "uid": uid, "key": f"{projects[p_index].name}/a{local}.parquet", "suffix": ".parquet",
            "kind": "dataset", "otype": "DataFrame", "size": 1000 + number % 9000, "hash": f"{number:032x}",
            "hash_type": "md5", "storage_id": storage_id, "path": f".flowtrail/{uid}.parquet", "is_managed": True,
            "version": 1, "is_latest": True, "created_at": when, "run_id": run_id,
        })  # fmt: skip

    for moment, p_index, local_run in events:
        project = projects[p_index]
        when = BASE_TIME + dt.timedelta(days=365 * moment)
        if local_run < 0:
            for local in range(project.n_sources):
                add_artifact(p_index, local, None, when)
            continue
        run_id = len(runs) + 1
        runs.append({
            "id": run_id, "uid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "transform_id": transform_ids[p_index] + project.run_layer[local_run] % project.n_transforms,
            "status": "completed", "started_at": when, "finished_at": when, "engine": "python",
            "created_at": when,
        })  # fmt: skip
        for local in project.run_inputs[local_run]:
            inputs.append({"run_id": run_id, "artifact_id": artifact_ids[p_index][local]})
        for local in project.run_outputs[local_run]:
            add_artifact(p_index, local, run_id, when)

    with instance.engine.begin() as conn:
        for table, rows in ((transform_table, transforms), (run_table, runs), (artifact_table, artifacts),
                            (run_input, inputs)):  # fmt: skip
            for offset in range(0, len(rows), INSERT_BATCH):
                conn.execute(insert(table), rows[offset : offset + INSERT_BATCH])
    with instance.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(run_table)) == len(runs)
        assert conn.scalar(select(func.count()).select_from(run_input)) == len(inputs)
    return Registry(name, root, instance, projects, artifact_ids, len(runs), len(artifacts), len(inputs),
                    time.perf_counter() - start)  # fmt: skip


# -- timing ------------------------------------------------------------------------------------


def sample(call: Callable[[], Any], after: Callable[[], Any] | None, reps: int) -> list[float]:
    """Seconds of each of ``reps`` calls; ``after`` runs untimed after each."""
    times: list[float] = []
    for _ in range(reps):
        begin = time.perf_counter()
        call()
        times.append(time.perf_counter() - begin)
        if after is not None:
            after()
    return times


def repetitions(call: Callable[[], Any], after: Callable[[], Any] | None, budget_s: float) -> int:
    """Warm ``call`` up and return how many calls fit into ``budget_s``, within [MIN_REPS, MAX_REPS]."""
    probe = min(sample(call, after, 1))
    if probe < budget_s / MIN_REPS:  # fast: one more warm-up, then a steadier probe
        probe = min(sample(call, after, 3))
    return max(MIN_REPS, min(MAX_REPS, int(budget_s / max(probe, 1e-6))))


@dataclass
class Measurement:
    registry: str
    direction: str
    label: str
    n_artifacts: int  # artifacts in the closure, including the start
    n_nodes: int  # artifacts + runs in the graph
    n_edges: int
    closure_s: float
    graph_s: float
    reps: tuple[int, int]
    floor_s: float = 0.0


@dataclass
class Query:
    direction: str
    project: Project
    local: int  # the start artifact's local index in its project
    label: str


def measure(registries: list[Registry], query: Query) -> list[Measurement]:
    """Closure and full graph of one start node in each registry, timed in alternating rounds.

    After warm-up calls, the registries take turns (ROUNDS rounds), so a change in the machine's
    load affects all of them alike; the reported time is the median over all rounds.
    """
    prepared = []
    for registry in registries:
        sessions = registry.instance.sessions
        session = sessions.current()
        start_id = registry.global_id(query.project, query.local)
        expected = {registry.artifact_ids[registry.projects.index(query.project)][i]
                    for i in walk_local(query.project, query.local, query.direction)}  # fmt: skip
        answer = closure(session, [start_id], query.direction, None)  # type: ignore[arg-type]
        if set(answer) != expected:
            raise AssertionError(f"{registry.name}: {query.direction} closure of artifact {start_id} has "
                                 f"{len(answer)} artifacts, expected {len(expected)}")  # fmt: skip
        start = session.get(Artifact, start_id)
        sessions.end_read()
        if registry.current:  # exactly what users call
            method = start.upstream if query.direction == "up" else start.downstream
        else:  # the function artifact.upstream()/downstream() runs, on this (not current) instance
            method = partial(lineage_graph, start, query.direction, None, registry.instance)
        shape: list[int] = []

        def bare(session: Any = session, start_id: int = start_id) -> None:
            closure(session, [start_id], query.direction, None)  # type: ignore[arg-type]

        def full(method: Callable[[], Any] = method, shape: list[int] = shape) -> None:
            found = method()
            artifacts, runs = found.artifacts, found.runs
            for artifact in artifacts:
                artifact.key  # noqa: B018 - a caller reads the records
            for run in runs:
                run.status  # noqa: B018
            shape[:] = [len(artifacts) + 1, len(artifacts) + 1 + len(runs), len(found.edges)]

        db = sqlite3.connect(registry.root / ".flowtrail" / "registry.db")
        floor = partial(records_floor, db, start_id, query.direction)
        full()
        if floor() != (shape[0], shape[1] - shape[0]):
            raise AssertionError(f"{registry.name}: the records floor read {floor()}, the graph {shape}")
        if shape[0] != len(expected):
            raise AssertionError(f"{registry.name}: graph has {shape[0]} artifacts, the closure {len(expected)}")
        budget = BUDGET_S / ROUNDS
        prepared.append((registry, bare, full, sessions.end_read, shape,
                         repetitions(bare, sessions.end_read, budget), repetitions(full, None, budget), [], [],
                         floor, repetitions(floor, None, budget), [], db))  # fmt: skip
    for _ in range(ROUNDS):
        for (_registry, bare, full, end_read, _shape, bare_reps, full_reps, bare_times, full_times,
             floor, floor_reps, floor_times, _db) in prepared:  # fmt: skip
            bare_times += sample(bare, end_read, bare_reps)
            full_times += sample(full, None, full_reps)
            floor_times += sample(floor, None, floor_reps)
    for item in prepared:
        item[-1].close()
    return [
        Measurement(registry.name, query.direction, query.label, shape[0], shape[1], shape[2],
                    statistics.median(bare_times), statistics.median(full_times), (len(bare_times), len(full_times)),
                    statistics.median(floor_times))
        for registry, _b, _f, _e, shape, _br, _fr, bare_times, full_times, _fl, _flr, floor_times, _db in prepared
    ]  # fmt: skip


def records_floor(db: sqlite3.Connection, start_id: int, direction: str) -> tuple[int, int]:
    """The graph's floor: the same recursive statement, then the rows of each kind as tuples."""
    sql = _walk_cte(direction, 1, False) + _EDGES[direction]  # type: ignore[arg-type]
    artifact_ids, run_ids = set(), set()
    for artifact_id, _depth, run_id, other_id in db.execute(sql, {"s0": start_id}):
        artifact_ids.add(artifact_id)
        if run_id is not None:
            run_ids.add(run_id)
            if other_id is not None:
                artifact_ids.add(other_id)
    rows = 0
    for table, ids in (("artifact", artifact_ids), ("run", run_ids)):
        ordered = sorted(ids)
        for begin in range(0, len(ordered), 20_000):
            chunk = ordered[begin : begin + 20_000]
            rows += len(db.execute(f"SELECT * FROM {table} WHERE id IN ({','.join('?' * len(chunk))})", chunk).fetchall())
    return len(artifact_ids), len(run_ids)


def pick_nodes(registry: Registry, projects: list[Project], direction: str, targets: list[int],
               rng: random.Random) -> list[tuple[int, Project, int, int]]:  # fmt: skip
    """(target, project, local artifact, answer size) closest to each target answer size (log scale).

    Candidates are sampled from ``projects`` in proportion to their size: non-raw artifacts for
    upstream, raw inputs (roots) for downstream; their answer sizes come from the closure query.
    """
    total = sum(p.n_artifacts for p in projects)
    pool: list[tuple[Project, int]] = []
    for project in projects:
        locals_ = range(project.n_sources, project.n_artifacts) if direction == "up" else range(project.n_sources)
        share = max(10, N_CANDIDATES * project.n_artifacts // total)
        pool += [(project, i) for i in rng.sample(locals_, min(share, len(locals_)))]
    session = registry.instance.sessions.current()
    sized = [(len(closure(session, [registry.global_id(p, i)], direction, None)), p.name, i, p)  # type: ignore[arg-type]
             for p, i in pool]  # fmt: skip
    registry.instance.sessions.end_read()
    chosen = []
    for target in targets:
        size, _, local, project = min(sized, key=lambda item: (abs(math.log(item[0] / target)), item[1], item[2]))
        chosen.append((target, project, local, size))
    return chosen


# -- the Python-walk baseline ------------------------------------------------------------------


def walk_core(session: Any, start: int) -> set[int]:
    """One generation at a time: the frontier's producing runs, then those runs' inputs (one query each)."""
    seen = {start}
    frontier = [start]
    while frontier:
        runs = list(session.scalars(
            select(Artifact.run_id).where(Artifact.id.in_(frontier), Artifact.run_id.is_not(None))
        ))  # fmt: skip
        if not runs:
            break
        found = session.scalars(select(run_input.c.artifact_id).where(run_input.c.run_id.in_(runs)))
        frontier = [a for a in set(found) if a not in seen]
        seen.update(frontier)
    return seen


def walk_orm(engine: Any, start: int) -> set[int]:
    """The same walk through ORM lazy loads (``artifact.run``, ``run.inputs``) in a fresh session."""
    with Session(engine) as session:
        seen = {start}
        frontier = [session.get(Artifact, start)]
        while frontier:
            following = []
            for artifact in frontier:
                run = artifact.run
                if run is None:
                    continue
                for parent in run.inputs:
                    if parent.id not in seen:
                        seen.add(parent.id)
                        following.append(parent)
            frontier = following
    return seen


# -- driver ------------------------------------------------------------------------------------


def target_ms(m: Measurement) -> float | None:
    """The issue's target for an upstream query: the chain's anywhere, the DAG's in the 100k registry."""
    if m.direction != "up":
        return None
    if m.label.startswith("200-run chain"):
        return TARGET_CHAIN_MS
    return TARGET_DAG_MS if m.registry == "dag-100k" else None


def fmt_ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 100 else f"{ms:.0f}"


def query_plan(registry: Registry, direction: str) -> str:
    session = registry.instance.sessions.current()
    sql = text("EXPLAIN QUERY PLAN " + closure_sql(direction, 1, False))  # type: ignore[arg-type]
    rows = session.execute(sql, {"s0": 1}).all()
    registry.instance.sessions.end_read()
    return "; ".join(row[-1] for row in rows)


def log(message: str) -> None:
    print(message, flush=True)


def main() -> int:
    total_start = time.perf_counter()
    log("lineage_closure: upstream/downstream lineage closures, warm, median of repeated calls")
    load = os.getloadavg()[0]
    log(f"python {sys.version.split()[0]}, flowtrail {flowtrail.__version__}, SQLAlchemy {sqlalchemy.__version__}, "
        f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, load average {load:.2f}")  # fmt: skip
    if load > (os.cpu_count() or 1):
        log("  note: the machine is busy; absolute numbers are noisier than usual (ratios less so).")
    base = Path(tempfile.mkdtemp(prefix="flowtrail-bench-lineage-"))
    results: list[Measurement] = []
    baselines: list[tuple[str, float, int]] = []
    built: list[Registry] = []
    opened: list[Registry] = []
    try:
        # 1. The bare 200-run chain (the instance flowtrail.init made current), and the Python walks.
        chain = build_registry(base, "chain", [chain_project(CHAIN_RUNS)], random.Random(SEED))
        chain.current = True
        built.append(chain)
        log(f"  built chain: {chain.n_runs:,} runs, {chain.n_artifacts:,} artifacts in {chain.build_s:.1f} s")
        project = chain.projects[0]
        last = project.n_artifacts - 1
        for query in (Query("up", project, last, "200-run chain, last"),
                      Query("down", project, 0, "200-run chain, first")):  # fmt: skip
            results += measure([chain], query)
        session = chain.instance.sessions.current()
        last_id = chain.global_id(project, last)
        expected = {chain.global_id(project, i) for i in walk_local(project, last, "up")}
        if walk_core(session, last_id) != expected or walk_orm(chain.instance.engine, last_id) != expected:
            raise AssertionError("the Python walks disagree with the generated chain")
        end_read = chain.instance.sessions.end_read
        end_read()
        for name, call, after in (("Python walk, Core query per step", lambda: walk_core(session, last_id), end_read),
                                  ("Python walk, ORM lazy loads", lambda: walk_orm(chain.instance.engine, last_id),
                                   None)):  # fmt: skip
            times: list[float] = []
            reps = repetitions(call, after, BUDGET_S / ROUNDS)
            for _ in range(ROUNDS):
                times += sample(call, after, reps)
            baselines.append((name, statistics.median(times), len(times)))
        plans = {direction: query_plan(chain, direction) for direction in ("up", "down")}
        disconnect()

        # 2. The same shared projects in a 10k-run and a 100k-run registry (plus one large project
        #    only in the 100k one), both open at once so the measurements can alternate.
        shared = shared_projects(random.Random(SEED + 1))
        shared_runs = sum(p.n_runs for p in shared)
        lanes, layers = LARGE_ONLY_GRID
        large_only = grid_project(random.Random(SEED + 5), f"large-only-{lanes}x{layers}", lanes, layers)
        fill_rng = random.Random(SEED + 2)
        plan = [("dag-10k", shared + filler_projects(fill_rng, SMALL_REGISTRY_RUNS - shared_runs, "small-")),
                ("dag-100k", shared + [large_only] + filler_projects(
                    fill_rng, LARGE_REGISTRY_RUNS - shared_runs - large_only.n_runs, "large-"))]  # fmt: skip
        for name, projects in plan:
            registry = build_registry(base, name, projects, random.Random(SEED + 3))
            disconnect()
            built.append(registry)
            log(f"  built {name}: {registry.n_runs:,} runs, {registry.n_artifacts:,} artifacts, "
                f"{registry.n_inputs:,} run inputs in {registry.build_s:.1f} s")  # fmt: skip
        for registry in built[1:]:
            registry.instance = Instance(cfg.resolve(registry.root))
            opened.append(registry)
        small, large = opened
        shared_dags = [p for p in shared if not p.name.startswith("chain")]
        queries = [Query("up", shared[0], shared[0].n_artifacts - 1, "200-run chain, last")]
        for direction in ("up", "down"):
            for target, proj, local, _ in pick_nodes(small, shared_dags, direction, TARGET_SIZES,
                                                     random.Random(SEED + 4)):  # fmt: skip
                root = " root" if direction == "down" else ""
                queries.append(Query(direction, proj, local, f"~{target:,} ({proj.name}{root})"))
        for query in queries:
            pair = measure([small, large], query)
            results += pair
            log(f"    {query.direction:<4} {pair[0].n_artifacts:>6,} artifacts: closure 10k "
                f"{fmt_ms(pair[0].closure_s)} ms / 100k {fmt_ms(pair[1].closure_s)} ms; graph 10k "
                f"{fmt_ms(pair[0].graph_s)} ms / 100k {fmt_ms(pair[1].graph_s)} ms")  # fmt: skip
        for direction in ("up", "down"):
            for target, proj, local, _ in pick_nodes(large, [large_only], direction, [LARGE_ONLY_TARGET],
                                                     random.Random(SEED + 6)):  # fmt: skip
                root = " root" if direction == "down" else ""
                label = f"~{target:,} ({proj.name}{root})"
                [m] = measure([large], Query(direction, proj, local, label))
                results.append(m)
                log(f"    {direction:<4} {m.n_artifacts:>6,} artifacts: closure 100k {fmt_ms(m.closure_s)} ms; "
                    f"graph 100k {fmt_ms(m.graph_s)} ms")  # fmt: skip
    finally:
        for registry in opened:
            registry.instance.close()
        disconnect()
        shutil.rmtree(base, ignore_errors=True)

    # -- report --------------------------------------------------------------------------------
    log("")
    log(f"{'registry':<9} {'runs':>8} {'artifacts':>10} {'run inputs':>10} {'built in':>9}")
    for r in built:
        log(f"{r.name:<9} {r.n_runs:>8,} {r.n_artifacts:>10,} {r.n_inputs:>10,} {r.build_s:>8.1f}s")
    log(f"closure query plan, up:   {plans['up']}")
    log(f"closure query plan, down: {plans['down']}")

    log("")
    log("closure = the bare recursive query flowtrail.core.lineage.graph.closure(session, [id], dir, None);")
    log("graph = artifact.upstream()/downstream() with runs, edges and ORM records (median ms).")
    header = (f"{'registry':<9} {'dir':<4} {'start node':<34} {'artifacts':>9} {'nodes':>7} {'edges':>7} "
              f"{'closure ms':>10} {'us/artif.':>9} {'graph ms':>9} {'target':>9} {'closure':>7} {'graph':>5} "
              f"{'floor ms':>9} {'x floor':>7}")  # fmt: skip
    log(header)
    log("-" * len(header))
    for m in results:
        target = target_ms(m)
        target_text = f"<= {target:g} ms" if target else "-"
        met_closure = ("yes" if m.closure_s * 1e3 <= target else "NO") if target else "-"
        met_graph = ("yes" if m.graph_s * 1e3 <= target else "NO") if target else "-"
        log(f"{m.registry:<9} {m.direction:<4} {m.label:<34} {m.n_artifacts:>9,} {m.n_nodes:>7,} {m.n_edges:>7,} "
            f"{fmt_ms(m.closure_s):>10} {m.closure_s * 1e6 / m.n_artifacts:>9.2f} {fmt_ms(m.graph_s):>9} "
            f"{target_text:>9} {met_closure:>7} {met_graph:>5} {fmt_ms(m.floor_s):>9} {m.graph_s / m.floor_s:>6.2f}x")  # fmt: skip

    chain_up = results[0]
    log("")
    log(f"200-run chain, upstream of the last artifact ({chain_up.n_artifacts} artifacts, {chain_up.n_nodes} nodes):")
    log(f"  {'method':<42} {'median ms':>10} {'reps':>5} {'x closure':>10} {'x graph':>8}")
    for name, seconds, reps in [("flowtrail closure() (one recursive query)", chain_up.closure_s, chain_up.reps[0]),
                                ("flowtrail artifact.upstream() (full graph)", chain_up.graph_s, chain_up.reps[1]),
                                *baselines]:  # fmt: skip
        log(f"  {name:<42} {fmt_ms(seconds):>10} {reps:>5} {seconds / chain_up.closure_s:>9.1f}x "
            f"{seconds / chain_up.graph_s:>7.1f}x")  # fmt: skip
    log(f"  {'LaminDB, Python walk (from the issue)':<42} {LAMINDB_MS:>10}")

    log("")
    log("Records against their floor (graph with records read / sqlite3 closure + one SELECT per kind), target")
    log("(issue 20) <= 2x at the 200-run chain and at ~10,000 nodes:")
    for m in results:
        if m.label.startswith("200-run chain") or 5_000 <= m.n_nodes <= 20_000:
            ratio = m.graph_s / m.floor_s
            log(f"  {m.registry:<9} {m.direction:<4} {m.label:<34} {m.n_nodes:>7,} nodes: graph {fmt_ms(m.graph_s)} ms, "
                f"floor {fmt_ms(m.floor_s)} ms, {ratio:.2f}x ({'met' if ratio <= 2 else 'NOT met'})")  # fmt: skip

    log("")
    log("Registry-size independence: the same start node with the same answer in a 10k-run and a 100k-run")
    log("registry (ratio = 100k / 10k; 1.0 = independent of the registry's size):")
    log(f"  {'dir':<4} {'start node':<34} {'artifacts':>9} {'closure 10k':>11} {'100k':>8} {'ratio':>6} "
        f"{'graph 10k':>10} {'100k':>8} {'ratio':>6}")  # fmt: skip
    by_key = {(m.registry, m.direction, m.label): m for m in results}
    for m in results:
        s = by_key.get(("dag-10k", m.direction, m.label))
        if m.registry != "dag-100k" or s is None:
            continue
        assert (s.n_artifacts, s.n_nodes, s.n_edges) == (m.n_artifacts, m.n_nodes, m.n_edges)
        log(f"  {m.direction:<4} {m.label:<34} {m.n_artifacts:>9,} {fmt_ms(s.closure_s):>11} {fmt_ms(m.closure_s):>8} "
            f"{m.closure_s / s.closure_s:>6.2f} {fmt_ms(s.graph_s):>10} {fmt_ms(m.graph_s):>8} "
            f"{m.graph_s / s.graph_s:>6.2f}")  # fmt: skip

    log("")
    log("Cost vs answer size in the 100k-run registry (artifacts in the answer: closure ms / graph ms):")
    for direction in ("up", "down"):
        rows = sorted((m for m in results if m.registry == "dag-100k" and m.direction == direction
                       and m.label.startswith("~")), key=lambda m: m.n_artifacts)  # fmt: skip
        log(f"  {direction:<4} " + ", ".join(f"{m.n_artifacts:,}: {fmt_ms(m.closure_s)} / {fmt_ms(m.graph_s)}"
                                            for m in rows))  # fmt: skip
    log("")
    log(f"Targets from the issue: upstream closure <= {TARGET_CHAIN_MS:g} ms on a 200-run chain, <= {TARGET_DAG_MS:g} ms "
        "on a generated 100,000-run DAG, cost growing with the answer, not the registry.")  # fmt: skip
    log(f"Total benchmark time: {time.perf_counter() - total_start:.0f} s, load average now {os.getloadavg()[0]:.2f}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
