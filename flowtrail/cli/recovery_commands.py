"""Commands that bring the registry back in line after faults: ``runs reap`` and ``sync``."""

from __future__ import annotations

import click

from flowtrail.cli.output import console


@click.group()
def runs() -> None:
    """Maintain runs: end those whose process is gone."""


@runs.command("reap")
def runs_reap() -> None:
    """Mark this host's started runs whose process is gone as aborted."""
    from flowtrail.core.db.context import current
    from flowtrail.core.runs.reaping import reap_runs
    from flowtrail.core.util.processes import this_host

    reaped = reap_runs(current())
    for run in reaped:
        console.print(f"aborted {run.uid}  [dim]{run.transform.key}, process {run.pid}[/dim]")
    console.print(f"{len(reaped)} run(s) on {this_host()} had lost their process and are now aborted.")


@click.command()
def sync() -> None:
    """Record the lineage journaled while the registry was unavailable (each file exactly once)."""
    from flowtrail.core.instance import connect
    from flowtrail.core.runs.journal import journal_folder
    from flowtrail.core.runs.journal import sync as sync_journal

    instance = connect(check=False)  # a plain connect would already replay, without this report
    instance.check_schema()
    report = sync_journal(instance)
    for path in report.replayed:
        console.print(f"recorded {path.name}")
    for path, why in report.failed:
        console.print(f"[red]kept[/red] {path.name}: {why}")
    for path in report.busy:
        console.print(f"[dim]skipped {path.name}: its process is still writing it[/dim]")
    console.print(f"{len(report.replayed)} journal file(s) recorded from {journal_folder(instance.config)}.")
    if report.failed:
        raise SystemExit(1)
