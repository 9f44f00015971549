"""Entry point: the ``flowtrail`` command group and error handling shared by every command."""

from __future__ import annotations

import sys
from typing import Any

import click

from flowtrail._version import __version__
from flowtrail.cli.annotation_commands import annotate, features, labels
from flowtrail.cli.export_commands import export
from flowtrail.cli.instance_commands import info, init, migrate, storage
from flowtrail.cli.lineage_commands import lineage
from flowtrail.cli.listing import ls
from flowtrail.cli.nextflow_commands import nextflow
from flowtrail.cli.openlineage_commands import ingest, serve
from flowtrail.cli.recovery_commands import runs, sync
from flowtrail.cli.registry_commands import describe, load, save
from flowtrail.cli.run_command import run


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flowtrail")
def cli() -> None:
    """flowtrail: lineage for Snakemake, Nextflow and Prefect workflows."""


for command in (init, info, migrate, storage, ls, describe, save, load, lineage, export, ingest, serve, nextflow,
                labels, features, annotate, runs, sync, run):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI; flowtrail errors print one clear line instead of a traceback."""
    from flowtrail.core.errors import FlowtrailError

    try:
        return cli.main(args=argv, prog_name="flowtrail", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except FlowtrailError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
