"""``flowtrail run -- CMD ARGS``: a shell step as a tracked run.

For pipelines that never write Python: a Snakemake ``shell:`` rule, a Nextflow ``script:`` block or
a plain shell script wraps a command in ``flowtrail run`` and gets a run with its command line,
params, times, exit code and (on failure) the end of its stderr, its declared inputs and outputs
as artifacts, and a parent when an enclosing run is named in ``OPENLINEAGE_PARENT_ID``. The
command's own output goes through untouched and its exit code is passed through, so the wrapper
changes nothing for the engine around it.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path
from typing import Any

import click

INTERPRETERS = ("python", "python3", "Rscript", "R", "bash", "sh", "zsh", "perl", "ruby", "node", "julia")
STDERR_TAIL = 4096  # bytes of stderr kept for a failed run's error
MAX_SOURCE = 1024 * 1024  # a script larger than this is not stored as the transform's source
PARENT_ID_ENV = "OPENLINEAGE_PARENT_ID"
ROOT_PARENT_ID_ENV = "OPENLINEAGE_ROOT_PARENT_ID"


@click.command(context_settings={"ignore_unknown_options": False, "allow_interspersed_args": False})
@click.option("--input", "inputs", multiple=True, metavar="PATH", help="A file or folder the command reads (repeatable).")
@click.option("--output", "outputs", multiple=True, metavar="PATH", help="A file or folder it writes (repeatable).")
@click.option("--param", "params", multiple=True, metavar="K=V", help="A parameter to record (repeatable).")
@click.option("--key", help="Transform key (default: the program, plus the script for interpreters).")
@click.option("--name", help="Run name, e.g. the sample it works on (default: none).")
@click.option("--project", help="Project the run and its outputs belong to.")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run(
    inputs: tuple[str, ...], outputs: tuple[str, ...], params: tuple[str, ...], key: str | None, name: str | None,
    project: str | None, command: tuple[str, ...],
) -> None:  # fmt: skip
    """Run COMMAND as a tracked run and exit with its exit code.

    Example: ``flowtrail run --input reads.fq --output counts.tsv --param min_count=5 -- python count.py``.
    Inputs are registered before the command starts, outputs after it succeeded (a declared
    output it did not write fails the run). The command runs with OPENLINEAGE_PARENT_ID naming
    this run, so scripts it starts (``ft.track()``) and nested ``flowtrail run`` steps become its
    children; this run's own parent is the run that variable names, if any.
    """
    from flowtrail.core.annotations.filter_text import split_filter
    from flowtrail.core.db.context import current
    from flowtrail.core.errors import ConfigurationError

    argv = list(command)
    parsed = {}
    for item in params:
        label, text = split_filter(item)
        parsed[label] = _param_value(text)
    missing = [p for p in inputs if "://" not in p and not os.path.exists(p)]
    if missing:
        raise click.BadParameter(f"{', '.join(missing)}: no such file or folder. Declare files the command reads.",
                                 param_hint="--input")  # fmt: skip
    try:
        instance = current()
    except ConfigurationError as exc:  # no registry: the step still runs, as it would without flowtrail
        click.echo(f"flowtrail run: not recording this command: {exc}", err=True)
        sys.exit(_exit_status(execute(argv, dict(os.environ))[0]))
    cwd = os.getcwd()
    transform_key, source = key or command_key(argv, instance.config.root), script_source(argv)
    # A staged input (a Nextflow task's symlink) is the file it points at, registered where that lives.
    resolved = [p if "://" in p else os.path.realpath(p) for p in inputs]
    input_records = _register(instance, resolved, cwd, run=None)
    parent, parent_ref, root_ref = environment_parent()
    from flowtrail.core.runs.tracking import finish_run, start_run

    step = start_run(
        transform_key, type="command", source_code=source, params={**parsed, "command": shlex.join(argv), "cwd": cwd},
        parent=parent, name=name, engine="shell", engine_version=None, project=project,
    )  # fmt: skip
    if parent is None and parent_ref:
        _remember_parent(instance, step, parent_ref, root_ref)
    if input_records:
        step.add_inputs(input_records)
    own_ref = f"{_namespace(instance)}/{transform_key}/{step.uid}"
    environment = {**os.environ, PARENT_ID_ENV: own_ref, ROOT_PARENT_ID_ENV: root_ref or parent_ref or own_ref}
    code, tail = execute(argv, environment)
    error = None
    if code == 0:
        written = [p for p in outputs if "://" in p or os.path.exists(p)]
        absent = [p for p in outputs if p not in written]
        _register(instance, written, cwd, run=step)
        if absent:
            code, error = 1, f"declared output(s) not written: {', '.join(absent)}"
            click.echo(f"flowtrail run: {error}", err=True)
    elif code is not None:
        error = f"exit code {code}" + (f"; stderr ends:\n{tail}" if tail else "")
    status = "completed" if code == 0 else ("aborted" if code is None or code < 0 or code in (130, 143) else "failed")
    finish_run(step, status, error=error, metrics={"exit_code": code})
    sys.exit(_exit_status(code))


def command_key(argv: list[str], root: Any = None) -> str:
    """``samtools`` for ``samtools sort ...``; ``python scripts/count.py`` for an interpreter and its script."""
    program = os.path.basename(argv[0])
    script = _script(argv)
    if script is None:
        return program
    path = Path(script).resolve()
    if root is not None and path.is_relative_to(Path(root).resolve()):
        shown = path.relative_to(Path(root).resolve()).as_posix()
    else:
        shown = path.name
    return f"{program} {shown}"


def script_source(argv: list[str]) -> str | None:
    """The script an interpreter runs, as the transform's source (so a changed script is a new version)."""
    script = _script(argv)
    if script is None or os.path.getsize(script) > MAX_SOURCE:
        return None
    try:
        return Path(script).read_text()
    except (OSError, UnicodeDecodeError):
        return None


def _script(argv: list[str]) -> str | None:
    base = os.path.basename(argv[0])
    if base.rstrip("0123456789.") not in INTERPRETERS or len(argv) < 2:
        return None
    candidate = next((a for a in argv[1:] if not a.startswith("-")), None)
    return candidate if candidate is not None and os.path.isfile(candidate) else None


def _param_value(text: str) -> Any:
    from flowtrail.core.annotations.filter_text import _auto

    return _auto(text, dates=False)


def environment_parent() -> tuple[Any, str | None, str | None]:
    """``(parent run or None, OPENLINEAGE_PARENT_ID, OPENLINEAGE_ROOT_PARENT_ID)`` from the environment.

    The parent is the registered run whose uid ends ``namespace/job/runId``; a run another system
    started (not in this registry) is remembered on the run instead (see ``_remember_parent``).
    """
    from flowtrail.core.models import Run

    parent_ref = os.environ.get(PARENT_ID_ENV, "").strip() or None
    root_ref = os.environ.get(ROOT_PARENT_ID_ENV, "").strip() or None
    if parent_ref is None:
        return None, None, root_ref
    run_id = parent_ref.rsplit("/", 1)[-1]
    if parent_ref.count("/") < 2 or not run_id:
        click.echo(f"flowtrail run: ignoring {PARENT_ID_ENV}={parent_ref!r} (not namespace/job/runId).", err=True)
        return None, None, root_ref
    return Run.filter(uid=run_id).first(), parent_ref, root_ref


def _remember_parent(instance: Any, step: Any, parent_ref: str, root_ref: str | None) -> None:
    """Keep an unregistered parent as an OpenLineage parent facet on the run, so nothing is lost."""
    from flowtrail.core.db.database import write_transaction

    def part(ref: str) -> dict[str, Any]:
        namespace, _, rest = ref.partition("/")
        job, _, run_id = rest.rpartition("/")
        return {"run": {"runId": run_id}, "job": {"namespace": namespace, "name": job}}

    facet = part(parent_ref)
    if root_ref:
        facet["root"] = part(root_ref)
    with write_transaction(instance.sessions) as session:
        session.add(step)
        step.facets = {**(step.facets or {}), "parent": facet}


def _namespace(instance: Any) -> str:
    return os.environ.get("FLOWTRAIL_OPENLINEAGE_NAMESPACE") or instance.name


def _register(instance: Any, paths: list[str], cwd: str, run: Any) -> list[Any]:
    """Register declared files in place; a folder holding them becomes a storage location if none does.

    That folder is the working directory (a Snakemake workflow's, as its adapter registers it),
    or for a Nextflow task the work folder above its hashed task folders, so that thousands of
    tasks add one location, not one each; for a file outside it, the instance's project folder
    if the file lies inside that, else the file's own folder.
    """
    if not paths:
        return []
    from flowtrail.core.artifacts.save import save_artifacts
    from flowtrail.core.instance import register_storage
    from flowtrail.core.models import Artifact

    roots = [s.root for s in instance.storages() if s.type == "local"]
    base = _work_root(cwd) or cwd
    for path in paths:
        if "://" in path:
            continue
        absolute = os.path.abspath(path)
        if any(_inside(absolute, root) for root in roots):
            continue
        project = str(instance.config.root) if instance.config.root is not None else None
        if _inside(absolute, base):
            folder = base
        elif project is not None and _inside(absolute, project):
            folder = project  # e.g. a Nextflow task's input from the project's data folder
        else:
            folder = os.path.dirname(absolute)
        register_storage(instance, folder, "working directory of `flowtrail run`")
        roots.append(folder)
    return save_artifacts([Artifact(p) for p in paths], run=run, log_duplicates=False)


def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip("/") + "/")


def _work_root(cwd: str) -> str | None:
    """``/x/work`` for a Nextflow task folder ``/x/work/ab/cdef0123...`` (two hex levels), else None."""
    task, bucket = os.path.basename(cwd), os.path.basename(os.path.dirname(cwd))
    if len(bucket) == 2 and len(task) == 30 and all(c in "0123456789abcdef" for c in bucket + task):
        return os.path.dirname(os.path.dirname(cwd))
    return None


def execute(argv: list[str], environment: dict[str, str]) -> tuple[int | None, str]:
    """Run ``argv``, passing stdout through and teeing stderr; return (exit code, stderr tail).

    The exit code is negative when a signal ended the command, None when it could not start.
    SIGINT and SIGTERM reach the command; the run then ends aborted.
    """
    try:
        child = subprocess.Popen(argv, env=environment, stderr=subprocess.PIPE)
    except OSError as exc:
        click.echo(f"flowtrail run: cannot start {argv[0]!r}: {exc.strerror or exc}", err=True)
        return 127, f"cannot start {argv[0]!r}: {exc.strerror or exc}"
    tail: deque[bytes] = deque()
    kept = [0]

    def pump() -> None:
        assert child.stderr is not None
        out = getattr(sys.stderr, "buffer", None)
        for chunk in iter(lambda: child.stderr.read1(65536), b""):  # type: ignore[union-attr]
            if out is not None:
                out.write(chunk)
                out.flush()
            else:
                sys.stderr.write(chunk.decode(errors="replace"))
            tail.append(chunk)
            kept[0] += len(chunk)
            while kept[0] - len(tail[0]) >= STDERR_TAIL:
                kept[0] -= len(tail.popleft())

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    previous = {sig: signal.signal(sig, lambda number, _frame: child.send_signal(number))
                for sig in (signal.SIGINT, signal.SIGTERM)}  # fmt: skip
    try:
        child.wait()  # a signal runs its handler (forwarding it) and the wait goes on
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    reader.join(timeout=5)
    text = b"".join(tail)[-STDERR_TAIL:].decode(errors="replace").strip()
    return child.returncode, text


def _exit_status(code: int | None) -> int:
    if code is None:
        return 127
    return 128 - code if code < 0 else code
