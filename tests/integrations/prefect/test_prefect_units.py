"""The Prefect adapter's parts that need no Prefect server: summaries, paths, discovery, decorating."""

from __future__ import annotations

import datetime as dt
import enum
import logging
import os
import uuid
from pathlib import Path

import pytest

pytest.importorskip("prefect")

import pandas as pd  # noqa: E402
import prefect_flows as pf  # noqa: E402
from prefect import Flow, flow, task  # noqa: E402

from flowtrail.integrations.prefect import hooks, tracked_flow  # noqa: E402
from flowtrail.integrations.prefect.discovery import discover  # noqa: E402
from flowtrail.integrations.prefect.values import (  # noqa: E402
    MAX_ITEMS,
    collect_objects,
    collect_paths,
    path_of,
    signature,
    summarise,
    summarise_params,
)

# -- summaries ----------------------------------------------------------------------------------


class Hostile:
    def __repr__(self) -> str:  # a repr that must never be called
        raise AssertionError("repr called")


class Colour(enum.Enum):
    RED = 1


def test_summaries_are_small_json_and_never_call_repr():
    frame = pd.DataFrame({"a": range(5), "b": list("abcde")})
    when = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    ident = uuid.uuid4()
    summary = summarise_params({
        "path": Path("/data/x.csv"), "n": 3, "ratio": 0.5, "nan": float("nan"), "flag": True, "none": None,
        "frame": frame, "when": when, "id": ident, "colour": Colour.RED, "blob": b"\x00" * 10,
        "obj": Hostile(), "long": "x" * 10_000, "many": list(range(1000)), "nested": {"a": {"b": {"c": {"d": 1}}}},
    })  # fmt: skip
    assert summary["path"] == "/data/x.csv" and summary["n"] == 3 and summary["ratio"] == 0.5
    assert summary["nan"] == "nan" and summary["flag"] is True and summary["none"] is None
    assert summary["frame"] == {"type": "pandas.core.frame.DataFrame", "shape": [5, 2]}
    assert summary["when"] == when.isoformat() and summary["id"] == str(ident)
    assert summary["colour"] == "Colour.RED" and summary["blob"] == "<bytes of 10 bytes>"
    assert summary["obj"] == "<test_prefect_units.Hostile>"
    assert len(summary["long"]) == 300
    assert len(summary["many"]) == MAX_ITEMS + 1 and summary["many"][-1] == f"... {1000 - MAX_ITEMS} more"
    assert summary["nested"] == {"a": {"b": {"c": "<dict>"}}}


def test_futures_are_summarised_as_their_upstream_task_run():
    from concurrent.futures import Future

    from prefect.futures import PrefectConcurrentFuture

    task_run_id = uuid.uuid4()
    future = PrefectConcurrentFuture(task_run_id=task_run_id, wrapped_future=Future())
    assert summarise(future) == {"upstream_task_run": str(task_run_id)}


def test_path_detection(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert path_of(Path("a/b.csv")) == str(tmp_path / "a" / "b.csv")
    assert path_of("results/table.parquet") == str(tmp_path / "results" / "table.parquet")
    assert path_of("table.csv") == str(tmp_path / "table.csv")
    assert path_of("file:///data/x.csv") == "/data/x.csv"
    for not_a_path in ("hello", "s3://bucket/key.csv", "a\nb/c", "", 42, None, 1.5):
        assert path_of(not_a_path) is None, not_a_path
    (tmp_path / "f.txt").write_text("abc")
    (tmp_path / "d").mkdir()
    assert signature(str(tmp_path / "f.txt"))[0::2] == (3, False)
    assert signature(str(tmp_path / "d"))[2] is True
    assert signature(str(tmp_path / "missing")) is None
    found = collect_paths({"one": Path("x.txt"), "many": [Path("y.txt"), "z/w.txt", 3], "n": 1})
    assert found == [str(tmp_path / p) for p in ("x.txt", "y.txt", "z/w.txt")]


def test_returned_objects_are_found_one_level_deep():
    frame = pd.DataFrame({"a": [1]})
    assert collect_objects(frame) == [("", frame)]
    assert collect_objects((frame, 3, frame)) == [("-0", frame), ("-2", frame)]
    assert collect_objects({"train set": frame}) == [("-train_set", frame)]
    assert collect_objects([1, 2]) == [] and collect_objects(None) == []


# -- discovery ----------------------------------------------------------------------------------


@task
def step_a(x: int) -> int:
    return x


@task
def step_b(x: int) -> int:
    return step_a(x)  # a task calling a task


STEPS = [step_a]


class Steps:
    @staticmethod
    def run(x: int) -> int:
        return step_b(x)


def _make_closure():
    local_task = task(lambda x: x, name="closure-task")

    def body(x: int) -> int:
        return local_task(x)

    return body, local_task


def test_discovery_follows_modules_helpers_classes_containers_and_closures():
    body, closure_task = _make_closure()

    def flow_body(x: int) -> int:
        total = pf.double(x) + Steps.run(x)  # module attribute, class attribute
        total += sum(s(x) for s in STEPS)  # a task in a list, used in a generator
        total += body(x)  # a helper with a task in its closure
        return total + pf.inner(x)  # a sub-flow, with its own task

    found = discover(flow_body)
    names = sorted(t.name for t in found.tasks)
    assert names == ["closure-task", "double", "step_a", "step_b"]
    assert closure_task in found.tasks
    assert [f.name for f in found.flows] == ["inner"]


def test_tasks_defined_after_the_flow_are_found_when_it_runs():
    namespace: dict = {}
    exec(  # noqa: S102 - a module whose task comes after the flow
        "from prefect import flow, task\n"
        "@flow\n"
        "def late_flow():\n"
        "    return late_task()\n",
        namespace,
    )
    decorated = tracked_flow(namespace["late_flow"])
    namespace["late_task"] = task(lambda: 1, name="late")
    assert not hooks.has_task_hooks(namespace["late_task"])
    from flowtrail.integrations.prefect.decorator import attach_discovered

    attach_discovered(decorated)  # what the flow's hook does on its first run
    assert hooks.has_task_hooks(namespace["late_task"])


# -- decorating ---------------------------------------------------------------------------------


def test_tracked_flow_decorates_functions_and_flows_once():
    def plain(x: int) -> int:
        return step_a(x)

    made = tracked_flow(name="made-by-tracked-flow", retries=1)(plain)
    assert isinstance(made, Flow) and made.name == "made-by-tracked-flow" and made.retries == 1
    again = tracked_flow(made)
    assert again is made
    assert sum(isinstance(h, hooks.FlowHook) for h in made.on_running_hooks) == 1
    assert made.on_completion_hooks.count(made.on_running_hooks[-1]) == 1
    assert step_a.on_running_hooks.count(hooks.flowtrail_task_running) == 1
    renamed = tracked_flow(name="renamed")(made)
    assert renamed is not made and renamed.name == "renamed"
    assert any(isinstance(h, hooks.FlowHook) for h in renamed.on_crashed_hooks)
    with pytest.raises(TypeError):
        tracked_flow(42)


def test_tracked_flows_pickle_for_process_pools():
    import cloudpickle

    copy = cloudpickle.loads(cloudpickle.dumps(pf.expression))
    hook = next(h for h in copy.on_running_hooks if isinstance(h, hooks.FlowHook))
    assert hook.options == next(h for h in pf.expression.on_running_hooks if isinstance(h, hooks.FlowHook)).options
    task_copy = cloudpickle.loads(cloudpickle.dumps(pf.load))
    assert hooks.flowtrail_task_running in task_copy.on_running_hooks  # by reference: same function


def test_untracked_flows_keep_their_hooks_untouched():
    @flow
    def lonely() -> None:
        pass

    assert lonely.on_running_hooks == [] and lonely.on_completion_hooks == []


def test_prefects_hook_log_lines_are_filtered_for_flowtrail_hooks_only():
    def record(msg: str) -> logging.LogRecord:
        return logging.LogRecord("prefect.task_runs", logging.INFO, __file__, 1, msg, None, None)

    keep = hooks.HookLogFilter().filter
    assert not keep(record("Running hook 'flowtrail_task_running' in response to entering state 'Running'"))
    assert not keep(record("Hook 'flowtrail_flow_hook' finished running successfully"))
    assert keep(record("Running hook 'notify_slack' in response to entering state 'Failed'"))
    assert keep(record("Finished in state Completed()"))
    assert all(hooks._FILTER in logging.getLogger(n).filters for n in hooks.HOOK_LOGGERS)


def test_importing_the_adapter_does_not_import_prefect():
    import subprocess
    import sys

    code = "import sys, flowtrail.integrations.prefect as p; print('prefect' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ)
    assert out.stdout.strip() == "False"
