"""Helpers for the Snakemake adapter tests: real ``snakemake`` subprocesses on small workflows.

``smk`` writes a workflow into a folder of the test's instance (``tmp_path / "project"``), runs
``snakemake -c2 --logger flowtrail`` there with the OpenLineage file transport configured, and
reads back the emitted events. The recorder process has finished (and flushed its events) when
``snakemake`` exits, so tests query the registry right after ``run()``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def snakemake_command() -> list[str]:
    beside = Path(sys.executable).with_name("snakemake")  # skips pyenv's shell shim
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("snakemake")
    return [found] if found else [sys.executable, "-m", "snakemake"]


class Snakemake:
    """Workflows in the test's project, snakemake runs on them, and the OpenLineage events they emit."""

    def __init__(self, project: Path, events_file: Path) -> None:
        self.project = project
        self.events_file = events_file
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWTRAIL_", "OPENLINEAGE"))}
        self.env.update(
            OPENLINEAGE__TRANSPORT__TYPE="file",
            OPENLINEAGE__TRANSPORT__LOG_FILE_PATH=str(events_file),
            OPENLINEAGE__TRANSPORT__APPEND="true",
        )

    def workflow(self, name: str, files: dict[str, str], base: Path | None = None) -> Path:
        """Write ``files`` (dedented) into ``<project>/<name>`` (or ``<base>/<name>``); return the folder."""
        folder = (base or self.project) / name
        for relpath, text in files.items():
            path = folder / relpath
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text).lstrip("\n"))
        return folder

    def command(self, *args: str, logger: bool = True) -> list[str]:
        return [*snakemake_command(), "-c2", "--nocolor", *(["--logger", "flowtrail"] if logger else []), *args]

    def run(
        self, workdir: Path, *args: str, expect: int = 0, env: dict[str, str] | None = None, logger: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.command(*args, logger=logger), check=False, cwd=workdir, env={**self.env, **(env or {})},
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert result.returncode == expect, f"snakemake exited {result.returncode}:\n{result.stderr[-5000:]}"
        fresh_reads()
        return result

    def start(self, workdir: Path, *args: str) -> subprocess.Popen[str]:
        """Start snakemake in its own process group (as a terminal would), output to a file."""
        with open(workdir / "snakemake.out", "w") as log:  # the child keeps its own copy of the handle
            return subprocess.Popen(
                self.command(*args), cwd=workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT, text=True,
                start_new_session=True,
            )  # fmt: skip

    def events(self) -> list[dict[str, Any]]:
        if not self.events_file.exists():
            return []
        return [json.loads(line) for line in self.events_file.read_text().splitlines() if line.strip()]


def fresh_reads() -> None:
    """End this thread's read transaction, so the next query sees what snakemake just wrote.

    A lazily loaded relationship (``run.children``) opens a read transaction that stays open until
    the next query ends it, and in WAL mode that query would still read the old snapshot.
    """
    from flowtrail.core.db.context import current

    current().sessions.end_read()


def wait_for(condition: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    """Poll ``condition`` until it returns something truthy (the registry is read fresh each time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fresh_reads()
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def kill_group(process: subprocess.Popen[str]) -> None:
    """Clean up whatever is left of a process group (jobs a killed snakemake left behind)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def problems(stderr: str) -> list[str]:
    """flowtrail's warnings, without the progress note a slow (loaded) machine adds while it finishes."""
    return [line for line in stderr.splitlines() if line.startswith("flowtrail:") and "still writing" not in line]


def recorder_of(process: subprocess.Popen[str], timeout: float = 60) -> Any:
    """The flowtrail recorder process a running ``snakemake`` started (a ``psutil.Process``)."""
    import psutil

    def find() -> Any:
        try:
            children = psutil.Process(process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return None
        for child in children:
            try:
                if any("flowtrail.integrations.snakemake.worker" in part for part in child.cmdline()):
                    return child
            except psutil.Error:
                continue
        return None

    return wait_for(find, timeout, what="the recorder process")


def wait_for_path(path: Path, exists: bool = True, timeout: float = 120) -> None:
    """Wait until ``path`` exists (or, with ``exists=False``, is gone)."""
    deadline = time.monotonic() + timeout
    while path.exists() != exists:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {path} to {'appear' if exists else 'go'}")
        time.sleep(0.1)
