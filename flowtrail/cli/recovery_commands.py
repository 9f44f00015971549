"""Commands that bring the registry back in line after faults: ``runs reap`` and ``sync``."""

from __future__ import annotations

import click

from .output import console


@click.group()
def runs() -> None:
    """Maintain runs: end those whose process is gone."""


@runs.command("reap")
def runs_reap() -> None:
    """Mark this host's started runs whose process is gone as aborted."""
    from ..core.instance import current
    from ..core.processes import this_host
    from ..core.reaping import reap_runs

    reaped = reap_runs(current())
    for run in reaped:
        console.print(f"aborted {run.uid}  [dim]{run.transform.key}, process {run.pid}[/dim]")
    console.print(f"{len(reaped)} run(s) on {this_host()} had lost their process and are now aborted.")
