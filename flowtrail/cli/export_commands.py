"""``flowtrail export``: the registry in other systems' formats."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click


@click.group()
def export() -> None:
    """Export the registry (e.g. as OpenLineage events)."""


@export.command("openlineage")
@click.option("--since", type=click.DateTime(), help="Only runs started at or after this date (UTC).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="NDJSON file (default: stdout).")
def export_openlineage(since: dt.datetime | None, output: Path | None) -> None:
    """Replay every run as OpenLineage events (START and its end), one JSON object per line."""
    from rich.progress import Progress

    from flowtrail.cli.listing import plural
    from flowtrail.cli.output import err_console
    from flowtrail.core.db.context import current
    from flowtrail.core.openlineage.export import count_runs, export_lines

    instance = current()
    total = count_runs(instance, since)
    handle = output.open("w") if output else sys.stdout
    written = 0
    try:
        with Progress(console=err_console, transient=True, disable=output is None or total < 500 or not err_console.is_terminal) as progress:
            task = progress.add_task("exporting runs", total=2 * total)
            for line in export_lines(instance, since):
                handle.write(line + "\n")
                written += 1
                progress.advance(task)
    finally:
        if output:
            handle.close()
    if output:
        click.echo(f"Wrote {plural(written, 'events')} for {plural(total, 'runs')} to {output}", err=True)
