"""Stopping `flowtrail nextflow run` (SIGTERM, like Ctrl-C) stops Nextflow and records what happened."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nfhelpers import FAST_JVM

import flowtrail as ft

pytestmark = pytest.mark.slow

PIPELINE = """\
process QUICK {
    output:
    path "quick.txt"
    script:
    "echo done > quick.txt"
}
process LONG {
    output:
    path "long.txt"
    script:
    "sleep 313; touch long.txt"
}
workflow {
    QUICK()
    LONG()
}
"""
RUNNER = """\
import sys
from flowtrail.integrations.nextflow import run
sys.exit(run("main.nf", launch_dir="pipeline", echo=False).return_code)
"""


def _wait_for(condition, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.3)


def test_sigterm_stops_nextflow_and_marks_the_runs_aborted(nextflow_ready: str, instance: ft.Instance) -> None:
    root = Path(instance.config.root)
    (root / "pipeline").mkdir()
    (root / "pipeline" / "main.nf").write_text(PIPELINE)
    env = {**os.environ, "NXF_OPTS": os.environ.get("NXF_OPTS") or FAST_JVM}
    process = subprocess.Popen([sys.executable, "-c", RUNNER], cwd=root, env=env, stderr=subprocess.PIPE, text=True)
    try:

        def running() -> bool:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            quick = ft.Run.filter(name="QUICK", status="completed").exists()
            return quick and ft.Run.filter(name="LONG", status="started").exists()

        _wait_for(running, 120, "QUICK to finish and LONG to start")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 130
    finally:
        if process.poll() is None:
            process.kill()
    session = ft.Run.get(transform__type="pipeline")
    assert session.status == "aborted" and session.finished_at is not None
    statuses = {run.name: run.status for run in session.children}
    assert statuses == {"QUICK": "completed", "LONG": "aborted"}
    assert len(ft.Artifact.filter(key__endswith="/quick.txt")) == 1
    assert not ft.Artifact.filter(key__endswith="/long.txt").exists()
    _wait_for(lambda: not _processes("sleep 313"), 10, "the task's processes to end")


def _processes(command: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if (
                entry.name.isdigit()
                and (entry / "cmdline").read_bytes().replace(b"\0", b" ").strip() == command.encode()
            ):
                found.append(int(entry.name))
        except OSError:
            continue
    return found
