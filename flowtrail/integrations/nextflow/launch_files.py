"""The files of one launch: Nextflow's log in the launch dir and the console output flowtrail keeps.

Before a launch the previous ``.nextflow.log`` is rotated as Nextflow does. nextflowpy's
``stdout.txt``/``stderr.txt``/``rc.txt`` are written to flowtrail's state dir for the run; from
them come the console echo, Nextflow's exit status, when it ended, and the error to record when
Nextflow stopped before starting a session.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

LOG_NAME = ".nextflow.log"
LOG_ROTATIONS = 9


def rotate_log(launch_dir: str) -> None:
    """Rotate ``.nextflow.log`` to ``.nextflow.log.1`` (keeping 9), as Nextflow does at start."""
    base = os.path.join(launch_dir, LOG_NAME)
    if not os.path.exists(base):
        return
    oldest = f"{base}.{LOG_ROTATIONS}"
    if os.path.exists(oldest):
        os.unlink(oldest)
    for index in range(LOG_ROTATIONS - 1, 0, -1):
        if os.path.exists(f"{base}.{index}"):
            os.replace(f"{base}.{index}", f"{base}.{index + 1}")
    os.replace(base, f"{base}.1")


class _Echo:
    """Prints what Nextflow writes to its console as it arrives."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.offsets = {"stdout": 0, "stderr": 0}

    def __call__(self, name: str, text: str | None) -> None:
        if not self.enabled or not text:
            return
        new = text[self.offsets[name] :]
        if new:
            stream = sys.stdout if name == "stdout" else sys.stderr
            stream.write(new)
            stream.flush()
            self.offsets[name] = len(text)

    def file(self, name: str, path: str) -> None:
        try:
            with open(path, errors="replace") as handle:
                self(name, handle.read())
        except FileNotFoundError:
            pass


def _mtime(path: str) -> float | None:
    try:
        if os.path.getsize(path) > 0:
            return os.path.getmtime(path)
    except OSError:
        pass
    return None


def _return_code(path: str, process: subprocess.Popen[Any] | None) -> int:
    try:
        text = Path(path).read_text().strip()
        if text.lstrip("-").isdigit():
            return int(text)
    except OSError:
        pass
    if process is not None and process.returncode not in (None, 0):
        return int(process.returncode) if process.returncode > 0 else 128 - process.returncode
    return 1


def _console_error(files: dict[str, str]) -> str | None:
    for name in ("stderr", "stdout"):
        try:
            text = Path(files[name]).read_text(errors="replace").strip()
        except OSError:
            continue
        if text:
            return "\n".join(text.splitlines()[-20:])[:2000]
    return None
