"""The ``nextflow run`` command line: the user's arguments sorted, nextflowpy's command rewritten.

:func:`split_args` takes out what flowtrail must place or read itself (``-c`` files, a
``-with-trace`` file) and refuses ``-bg``; :func:`rewrite_command` turns the shell command
nextflowpy builds into the one flowtrail runs (the changes are listed in :mod:`.runner`).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

PUBLISH_TRACE = "-trace nextflow.processor.PublishDir"


@dataclass
class _Args:
    passthrough: list[str]
    configs: list[str]
    trace_file: str | None


def split_args(args: Sequence[str], launch_dir: str) -> _Args:
    """Separate ``-c FILE`` (moved before flowtrail's config) and a ``-with-trace FILE`` we must read."""
    from flowtrail.core.errors import FlowtrailError

    passthrough: list[str] = []
    configs: list[str] = []
    trace_file = None
    items = list(args)
    i = 0
    while i < len(items):
        arg = items[i]
        if arg in ("-c", "-config") and i + 1 < len(items):
            path = items[i + 1]
            configs.append(path if os.path.isabs(path) else os.path.join(launch_dir, path))
            i += 2
            continue
        if arg in ("-bg", "-background"):
            raise FlowtrailError("flowtrail nextflow run cannot follow a pipeline sent to the background (-bg).")
        if arg == "-with-trace" and i + 1 < len(items) and not items[i + 1].startswith("-"):
            value = items[i + 1]
            trace_file = value if os.path.isabs(value) else os.path.join(launch_dir, value)
        passthrough.append(arg)
        i += 1
    return _Args(passthrough, configs, trace_file)


def rewrite_command(command: str, *, launch_dir: str, pipeline: str, args: Sequence[str], files: dict[str, str]) -> str:
    """nextflowpy's shell command with our changes (see the :mod:`.runner` docstring)."""
    from flowtrail.core.errors import FlowtrailError

    def replace(text: str, old: str, new: str) -> str:
        if old not in text:
            raise FlowtrailError(
                f"nextflowpy built an unexpected command (no {old!r} in {text!r}); this flowtrail supports "
                "nextflowpy 0.13: pip install 'nextflowpy>=0.13,<0.14'."
            )
        return text.replace(old, new, 1)

    prefix = f"cd {launch_dir}; "
    command = command.removeprefix(prefix)  # we start the shell in the launch dir ourselves
    q = shlex.quote
    command = replace(command, ":>rc.txt; ", f":>{q(files['rc'])}; ")
    command = replace(command, " >stdout.txt 2>stderr.txt; echo $? >rc.txt",
                      f" >{q(files['stdout'])} 2>{q(files['stderr'])}; echo $? >{q(files['rc'])}")  # fmt: skip
    command = replace(command, "nextflow -Duser.country=US ", f"nextflow -Duser.country=US {PUBLISH_TRACE} ")
    if args:
        command = replace(command, f" run {pipeline} ", f" run {pipeline} {shlex.join(args)} ")
    return command
