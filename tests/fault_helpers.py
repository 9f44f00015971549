"""Real faults for tests: small or read-only file systems, and a PostgreSQL server of one's own to hang.

A full or read-only disk is a real tmpfs mounted for the test (root only; elsewhere the tests
that need it are skipped). A hung database is a server this module starts, stopped with SIGSTOP:
the session-wide ``postgres_server`` fixture must never be stopped.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def root_conftest():  # noqa: ANN201 - the tests' root conftest module
    """tests/conftest.py by path: ``import conftest`` may find another folder's conftest first."""
    import importlib.util
    import sys

    name = "_flowtrail_tests_root_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parent / "conftest.py")
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[name] = module  # before running it: its dataclasses look their module up
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    return sys.modules[name]


@contextmanager
def tmpfs(folder: Path, size: str = "4m") -> Iterator[Path]:
    """A real, small file system at ``folder`` (needs root); unmounted afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small file system needs root")
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(folder)], capture_output=True)
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def make_read_only(folder: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)


def fill(folder: Path) -> None:
    """Write until the file system holding ``folder`` is full."""
    with open(folder / "filler", "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass


class OwnPostgres:
    """A PostgreSQL server started for one test module, which a test may freeze and thaw."""

    def __init__(self) -> None:
        shared = root_conftest()
        bindir = shared._postgres_bindir()
        if bindir is None:
            pytest.skip("PostgreSQL server binaries not found")
        self.as_root = os.geteuid() == 0
        self.base = Path(tempfile.mkdtemp(prefix="flowtrail-pg-own-", dir="/tmp"))
        if self.as_root:
            shutil.chown(self.base, "nobody")
        self.bindir, self.data = bindir, self.base / "data"
        self._run(bindir / "initdb", "-D", self.data, "-U", "flowtrail", "--auth=trust", "--no-locale", "-E", "UTF8",
                  "--no-sync")
        self.port = shared._free_port()
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.base} "
                   "-c fsync=off -c synchronous_commit=off")  # fmt: skip
        self._run(bindir / "pg_ctl", "-D", self.data, "-l", self.base / "log", "-o", options, "-w", "start")
        self.url = f"postgresql://flowtrail@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: object) -> None:
        command = [str(a) for a in argv]
        if self.as_root:
            command = ["runuser", "-u", "nobody", "--", *command]
        done = subprocess.run(command, cwd=self.base, capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            pytest.fail(f"{command} failed: {done.stdout}{done.stderr}")

    def pids(self, *, all_processes: bool) -> list[int]:
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        if not all_processes:
            return [postmaster]
        import psutil

        return [postmaster, *(p.pid for p in psutil.Process(postmaster).children(recursive=True))]

    @contextmanager
    def frozen(self, *, all_processes: bool) -> Iterator[None]:
        """SIGSTOP the postmaster (no new connections) or every server process (nothing answers)."""
        pids = self.pids(all_processes=all_processes)
        for pid in pids:
            _signal(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for pid in pids:
                _signal(pid, signal.SIGCONT)

    def stop(self) -> None:
        self._run(self.bindir / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.base, ignore_errors=True)


def _signal(pid: int, signum: int) -> None:
    # A backend may end between listing the server's processes and signalling them.
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
