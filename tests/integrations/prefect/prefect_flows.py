"""Tasks and flows for the Prefect adapter tests.

They live in a module of their own so that process-pool workers (which Prefect starts with
``spawn``) can import them by name; the test modules import them from here.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pandas as pd
from prefect import flow, task
from prefect.assets import materialize
from prefect.cache_policies import INPUTS
from prefect.context import TaskRunContext
from prefect.task_runners import ProcessPoolTaskRunner

import flowtrail as ft
from flowtrail.integrations.prefect import tracked_flow

# -- tasks ------------------------------------------------------------------------------------------


@task
def load(src: Path) -> pd.DataFrame:
    return pd.read_csv(src)


@task
def keep_expressed(frame: pd.DataFrame, min_count: int = 5) -> pd.DataFrame:
    return frame[frame["count"] >= min_count].reset_index(drop=True)


@task
def write_table(frame: pd.DataFrame, out: Path) -> Path:
    frame.to_csv(out, index=False)
    return out


@task
def double(x: int) -> int:
    return 2 * x


@task
def total(values: list[int]) -> int:
    return sum(values)


@task
def explode(x: int) -> int:
    raise ValueError(f"cannot handle {x}")


@task(retries=2)
def flaky(x: int) -> int:
    if TaskRunContext.get().task_run.run_count < 2:
        raise RuntimeError("transient failure")
    return x + 1


@task(cache_policy=INPUTS, persist_result=True)
def cached_square(x: int) -> int:
    return x * x


@task
async def async_increment(x: int) -> int:
    await asyncio.sleep(0)
    return x + 1


@task
def write_text(path: str, text: str) -> str:
    Path(path).write_text(text)
    return path


@task
def count_chars(path: str) -> int:
    return len(Path(path).read_text())


# -- flows ------------------------------------------------------------------------------------------


@tracked_flow
@flow
def expression(src: Path, out: Path, min_count: int = 5) -> Path:
    """Load a count table, keep the expressed genes, write them out."""
    frame = load(src)
    kept = keep_expressed(frame, min_count)
    return write_table(kept, out)


@tracked_flow(name="fan-out")
def fan_out(src: Path) -> int:
    frame = load.submit(src)  # a future passed on: linked through Prefect's task inputs
    kept = keep_expressed.submit(frame)
    doubled = double.map([1, 2, 3])
    kept.wait()
    return total.submit(doubled).result()


@tracked_flow
@flow
async def async_pipeline(start: int) -> int:
    first = await async_increment(start)
    rest = await asyncio.gather(async_increment(first), async_increment(first + 10))
    return sum(rest)


@flow
def inner(x: int) -> int:
    """An untracked sub-flow: recorded only when a tracked flow calls it."""
    return double(x) + 1


@tracked_flow
@flow
def outer(x: int) -> int:
    return inner(x) + inner(x + 1)


@tracked_flow
@flow
def tolerant(x: int) -> int:
    failed = explode.submit(x)
    ok = double.submit(x)
    failed.wait()
    return ok.result()


@tracked_flow
@flow
def doomed(x: int) -> int:
    double(x)
    raise KeyError("the flow itself fails")


@tracked_flow
@flow
def retrying(x: int) -> int:
    return flaky(x)


@task(cache_policy=INPUTS, persist_result=True)
def cached_note(text: str, out: Path) -> Path:
    out.write_text(text)
    return out


@tracked_flow
@flow
def caching(x: int, out: Path) -> int:
    cached_note(str(x), out)
    return cached_square(x)


@tracked_flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
def in_processes(folder: str) -> int:
    written = write_text.submit(f"{folder}/greeting.txt", "hello")
    counted = count_chars.submit(written)
    return counted.result()


@flow
def untracked(x: int) -> int:
    """Reuses tracked tasks; nothing of it may reach the registry."""
    return double(x) + double.submit(x + 1).result()


def _helper(x: int) -> int:
    # a task reached only through a plain helper function
    return double(x)


@tracked_flow
@flow
def through_helper(x: int) -> int:
    return _helper(x)


@tracked_flow
@flow
def dynamic(x: int) -> int:
    made_here = task(lambda y: y * 3, name="made-here")  # invisible to static discovery
    return made_here(x)


def materialized_flow(table: Path, source: Path):  # noqa: ANN201 - returns a tracked Flow
    """A flow whose task declares its output asset and upstream dependency."""

    @materialize(table.as_uri(), asset_deps=[source.as_uri()])
    def build_table() -> None:
        table.write_text(source.read_text().upper())

    @tracked_flow(name="assets")
    def assets() -> None:
        build_table()

    return assets


@task
def halt(code: int) -> None:
    raise SystemExit(code)  # Prefect calls this a crash: no task hook runs


@tracked_flow
@flow
def crashing(x: int) -> int:
    double(x)
    halt(3)
    return x


def objects_flow(**options):  # noqa: ANN003, ANN201 - returns a tracked Flow
    """A flow whose tasks return a DataFrame and an AnnData, tracked with ``options``."""
    import anndata
    import numpy as np

    @task
    def make_frame(n: int) -> pd.DataFrame:
        return pd.DataFrame({"gene": [f"g{i}" for i in range(n)], "count": range(n)})

    @task
    def make_cells(n: int) -> anndata.AnnData:
        return anndata.AnnData(np.ones((n, 3), dtype="float32"))

    @tracked_flow(name="objects", **options)
    def objects(n: int) -> tuple[int, int]:
        return len(make_frame(n)), make_cells(n).n_obs

    return objects


@tracked_flow(name="in-project", project="Prefect Project")
def in_project(src: Path, out: Path) -> int:
    kept = keep_expressed(load(src))
    write_table(kept, out)
    return inner(2)  # an untracked sub-flow: nested, so it inherits the project


@tracked_flow(name="pool-in-project", project="Pool", task_runner=ProcessPoolTaskRunner(max_workers=2))
def pool_in_project(folder: str) -> int:
    written = write_text.submit(f"{folder}/note.txt", "hello")
    return count_chars.submit(written).result()


@task(persist_result=True, cache_result_in_memory=False)
def write_persisted(text: str, out: Path) -> Path:
    out.write_text(text)
    return out


@tracked_flow
def persisted(out: Path) -> Path:
    """The returned path of a task whose result Prefect keeps only in storage is still an output."""
    return write_persisted("kept in storage", out)



# -- a task's run as the run context ----------------------------------------------------------------


@ft.tracked()
def scaled(x: int) -> int:
    return x * 3


@task
def save_inside(name: str) -> str:
    """Saves through flowtrail and calls a tracked function inside the task: both belong to this task run."""
    Path(name).write_text(f"made by {name}\n")
    made = ft.Artifact(name, key=name).save()
    scaled(2)
    return made.uid


@tracked_flow
@flow
def saving(name: str) -> str:
    return save_inside(name)


@tracked_flow
@flow
def other_loader(src: Path) -> int:
    """Uses the task ``load`` of ``expression`` too: a task of another flow, another transform."""
    return len(load(src))


# -- the registry contract of flowtrail.testing (raw -> step1 -> intermediate -> step2 -> result) ---


@task
def step1(src: Path, dst: Path) -> Path:
    dst.write_text(src.read_text().upper())
    return dst


@task
def step2(src: Path, dst: Path, fail: bool = False) -> Path:
    if fail:
        raise RuntimeError("step2 failed on purpose")
    dst.write_text(f"{len(src.read_text().splitlines())}\n")
    return dst


@tracked_flow(name="contract")
def contract(folder: Path, raw: str, intermediate: str, result: str, fail: bool = False) -> Path:
    middle = step1(folder / raw, folder / intermediate)
    return step2(middle, folder / result, fail)
