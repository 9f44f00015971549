"""``flowtrail nextflow run`` and ``flowtrail nextflow import``.

The group is attached to the main CLI as ``flowtrail.cli.nextflow_commands:nextflow``. It
imports nothing heavy (no nextflowpy, no SQLAlchemy) until a command runs.
"""

from __future__ import annotations

from typing import Any

import click

HASH_MODES = click.Choice(["full", "size-mtime"])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def nextflow() -> None:
    """Run Nextflow pipelines with lineage, or register finished runs."""


def _summary(run: Any) -> str:
    tasks = (run.metrics or {}).get("tasks") or {}
    counts = ", ".join(f"{n} {status}" for status, n in tasks.items()) or "no tasks"
    return f"flowtrail: Nextflow run {run.name or run.uid} is {run.status}: {counts} (run {run.uid})"


@nextflow.command(
    "run",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option("--poll", "poll_interval", type=click.FloatRange(min=0.05), default=0.5, show_default=True,
              help="Seconds between looks at the running pipeline.")  # fmt: skip
@click.option("--quiet", is_flag=True, help="Do not echo Nextflow's console output.")
@click.option("--hash-mode", type=HASH_MODES, default="full", show_default=True,
              help="size-mtime skips reading file contents (for huge outputs).")  # fmt: skip
@click.option("--lineage-store", metavar="PATH_OR_URL",
              help="Nextflow's lineage store, if not where the log says (lineage.store.location).")  # fmt: skip
@click.option("--no-trace", is_flag=True,
              help="Leave Nextflow's trace off: no per-task resource metrics, which Nextflow pays for "
                   "with CPU on every task; times then come from the log.")  # fmt: skip
@click.option("--project", metavar="NAME",
              help="flowtrail project of the pipeline run and every task run (created if new); "
                   "default: FLOWTRAIL_PROJECT.")  # fmt: skip
@click.argument("pipeline")
@click.argument("nextflow_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def run_command(
    ctx: click.Context,
    pipeline: str,
    nextflow_args: tuple[str, ...],
    poll_interval: float,
    quiet: bool,
    hash_mode: str,
    lineage_store: str | None,
    no_trace: bool,
    project: str | None,
) -> None:
    """Run `nextflow run PIPELINE [NEXTFLOW_ARGS]...` here and register every task as it runs.

    Everything after PIPELINE goes to Nextflow unchanged (-resume, -profile, -c, --param ...).
    Exits with Nextflow's exit status. Needs Nextflow on PATH and nextflowpy
    (pip install 'flowtrail[nextflow]'; nextflowpy is GPL-3.0).
    """
    from flowtrail.integrations.nextflow.runner import run

    result = run(
        pipeline,
        list(nextflow_args),
        poll_interval=poll_interval,
        echo=not quiet,
        hash_mode=hash_mode,
        lineage_store=lineage_store,
        trace=not no_trace,
        project=project,
    )
    click.echo(_summary(result.run), err=True)
    ctx.exit(result.return_code)


@nextflow.command("import")
@click.argument("launch_dir", default=".", type=click.Path(exists=True, file_okay=False))
@click.option("--run", "run_name", metavar="NAME_OR_SESSION", help="Which run (default: the latest).")
@click.option("--all", "all_runs", is_flag=True, help="Every run whose log is still there, oldest first.")
@click.option("--trace", metavar="FILE", help="The run's trace file, if the log does not name it.")
@click.option("--lineage-store", metavar="PATH_OR_URL", help="Nextflow's lineage store, if not where the log says.")
@click.option("--hash-mode", type=HASH_MODES, default="full", show_default=True)
def import_command(
    launch_dir: str, run_name: str | None, all_runs: bool, trace: str | None, lineage_store: str | None, hash_mode: str
) -> None:
    """Register a finished Nextflow run from its launch dir (log, trace, work dirs, lineage store)."""
    from flowtrail.integrations.nextflow.importer import AlreadyRegistered, import_all, import_run

    if all_runs:
        if run_name or trace or lineage_store:
            raise click.UsageError(
                "--all imports every run as found; it cannot be combined with --run, --trace or --lineage-store."
            )
        runs = import_all(launch_dir, hash_mode=hash_mode)
        for run in runs:
            click.echo(_summary(run))
        if not runs:
            click.echo("flowtrail: nothing new to import.")
        return
    try:
        run = import_run(launch_dir, run=run_name, trace=trace, lineage_store=lineage_store, hash_mode=hash_mode)
    except AlreadyRegistered as exc:
        click.echo(f"flowtrail: {exc}; nothing to do.")
        return
    click.echo(_summary(run))
