"""No run stays `started` forever: signals end runs as aborted, and runs whose process is gone are reaped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import flowtrail as ft
from flowtrail.core.db.context import disconnect

FLOWTRAIL = str(Path(sys.executable).with_name("flowtrail"))

SCRIPT = textwrap.dedent("""
    import sys, time
    import flowtrail as ft

    ft.track(params={"sample": "s1"})

    @ft.tracked()
    def align(sample):
        print("ready", flush=True)
        time.sleep(120)

    if sys.argv[1] == "nested":
        align("s1")
    else:
        print("ready", flush=True)
        time.sleep(120)
""")


def _start(root: Path, mode: str, env: dict[str, str]) -> subprocess.Popen[str]:
    script = root / "long_step.py"
    script.write_text(SCRIPT)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRAIL_")} | env
    child = subprocess.Popen([sys.executable, str(script), mode], cwd=root, env=environment, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)  # fmt: skip
    line = child.stdout.readline()
    assert line.strip() == "ready", child.stderr.read()
    return child


def _runs(instance_root: Path, env: dict[str, str]) -> dict[str, tuple[str, str | None]]:
    disconnect()
    for name, value in env.items():
        os.environ[name] = value
    try:
        ft.connect(instance_root)
        return {run.transform.key: (run.status, run.error) for run in ft.Run.filter()}
    finally:
        for name in env:
            os.environ.pop(name, None)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def registry(request):
    """(instance folder, environment for child processes) on SQLite or PostgreSQL."""
    if request.param == "sqlite":
        inst = request.getfixturevalue("instance")
        return inst.config.root, {}
    inst = request.getfixturevalue("pg_instance")
    return inst.config.root, {}


@pytest.mark.parametrize("mode", ["script", "nested"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_the_tracked_runs_as_aborted(registry, mode, signum):
    root, env = registry
    child = _start(root, mode, env)
    child.send_signal(signum)
    child.communicate(timeout=120)
    assert child.returncode != 0
    runs = _runs(root, env)
    assert runs["long_step.py"][0] == "aborted", runs
    if signum == signal.SIGTERM:
        assert "SIGTERM" in (runs["long_step.py"][1] or ""), runs
    if mode == "nested":
        assert runs["long_step.py:align"][0] == "aborted", runs


def test_runs_of_a_killed_process_are_reaped_by_the_cli(registry):
    root, env = registry
    child = _start(root, "nested", env)
    child.kill()
    child.wait(timeout=60)
    assert {status for status, _ in _runs(root, env).values()} == {"started"}
    disconnect()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRAIL_")} | env
    done = subprocess.run([FLOWTRAIL, "runs", "reap"], cwd=root, env=environment, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2 run(s)" in done.stdout, done.stdout
    runs = _runs(root, env)
    assert {key: status for key, (status, _) in runs.items()} == {"long_step.py": "aborted", "long_step.py:align": "aborted"}
    assert f"process {child.pid}" in runs["long_step.py"][1]


def test_the_next_tracked_script_on_the_host_reaps_a_killed_run(registry):
    root, env = registry
    child = _start(root, "script", env)
    child.kill()
    child.wait(timeout=60)
    (root / "next_step.py").write_text("import flowtrail as ft\nft.track()\n")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRAIL_")} | env
    done = subprocess.run([sys.executable, "next_step.py"], cwd=root, env=environment, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    runs = _runs(root, env)
    assert runs["long_step.py"][0] == "aborted" and runs["next_step.py"][0] == "completed", runs


def test_a_live_process_keeps_its_run(instance):
    run = ft.track()
    disconnect()
    from flowtrail.core.runs.reaping import reap_runs

    assert reap_runs(ft.connect(instance.config.root)) == []
    assert ft.Run.get(uid=run.uid).status == "started"
    ft.finish()
