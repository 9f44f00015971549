"""Commands about registry content: ls, describe, save, load."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import click
from rich.markup import escape

from flowtrail.cli.output import byte_progress, console


@click.command()
@click.argument("uid_or_key")
@click.option("--json", "as_json", is_flag=True, help="One JSON object with every field.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV rows of field,value.")
def describe(uid_or_key: str, as_json: bool, as_csv: bool) -> None:
    """Show an artifact, collection, run or transform.

    UID_OR_KEY is a uid, the short id listings show (a run's is the end of its uid), a key, or a
    run's name.
    """
    from flowtrail.cli.lookup import find_record
    from flowtrail.cli.record_fields import record_fields
    from flowtrail.cli.tables import machine_value, output_format, plain

    fmt = output_format(as_json, as_csv)
    record = find_record(uid_or_key)
    if fmt == "json":
        click.echo(json.dumps({k: machine_value(v) for k, v in record_fields(record).items()}, default=plain))
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["field", "value"])
        writer.writerows([name, plain(value)] for name, value in record_fields(record).items())
    else:
        record.describe()


@click.command()
@click.argument("path")
@click.option("--key", help="Key to register under (default: path inside its storage, or none).")
@click.option("--description", help="What this artifact is.")
def save(path: str, key: str | None, description: str | None) -> None:
    """Register the file, folder or URL at PATH."""
    from flowtrail.core.artifacts.save import save_artifacts
    from flowtrail.core.models import Artifact

    artifact = Artifact(path, key=key, description=description)
    total = _local_size(path)
    with byte_progress(total, f"hashing {os.path.basename(path)}") as progress:
        registered = save_artifacts([artifact], progress=progress)[0]
    verb = "Saved" if registered is artifact else "Already registered:"
    console.print(f"{verb} {escape(registered.key or '(no key)')} v{registered.version} [dim]{registered.uid}[/dim]")


def _local_size(path: str) -> int:
    target = Path(path)
    if "://" in path or not target.exists():
        return 0
    if target.is_file():
        return target.stat().st_size
    return sum(p.stat().st_size for p in target.rglob("*") if p.is_file())


@click.command()
@click.argument("uid_or_key")
def load(uid_or_key: str) -> None:
    """Make an artifact available locally (downloading it once) and print its path."""
    from flowtrail.cli.lookup import find_record
    from flowtrail.core.models import Artifact

    record = find_record(uid_or_key, command="flowtrail load")
    if not isinstance(record, Artifact):
        raise click.BadParameter(f"{uid_or_key} is a {type(record).__name__}, not an artifact.")
    click.echo(str(record.cache()))
