"""Running the real ``flowtrail`` executable in a fresh process: piped, or at a terminal of a given width."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
from dataclasses import dataclass
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def executable() -> str:
    beside = Path(sys.executable).with_name("flowtrail")  # the venv's entry point, not a shell shim
    return str(beside) if beside.is_file() else shutil.which("flowtrail") or "flowtrail"


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without FLOWTRAIL_*/OPENLINEAGE* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWTRAIL_", "OPENLINEAGE"))}
    return {**env, **extra}


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def piped(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> Result:
    """``flowtrail ARGS`` with stdout and stderr captured (not a terminal)."""
    done = subprocess.run([executable(), *args], cwd=cwd, env=env or clean_environment(), capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip
    return Result(done.returncode, done.stdout, done.stderr)


def at_terminal(*args: str, cwd: Path, columns: int, env: dict[str, str] | None = None) -> Result:
    """``flowtrail ARGS`` with stdout and stderr on a pseudo-terminal ``columns`` wide; colours stripped."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    environment = {**(env or clean_environment()), "COLUMNS": str(columns), "TERM": "xterm"}
    process = subprocess.Popen([executable(), *args], cwd=cwd, env=environment, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    output = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    code = process.wait(timeout=120)
    text = _ANSI.sub("", output.decode()).replace("\r\n", "\n")
    return Result(code, text, "")
