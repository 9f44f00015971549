"""Commands about the instance itself: init, info, migrate, storage."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from flowtrail.cli.listing import plural
from flowtrail.cli.output import console


@click.command()
@click.argument("path", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--storage", help="Where managed copies go: a folder or fsspec URL (default .flowtrail/storage).")
@click.option("--db", help="Database URL, e.g. postgresql://user@host/db (default: embedded SQLite).")
@click.option("--name", help="Instance name (default: the folder name).")
@click.option(
    "--hash", "hash_algorithm", type=click.Choice(["md5", "blake3"]), default=None,
    help="Content hash of artifacts (default md5, as md5sum and S3 ETags; blake3 is faster, needs flowtrail[blake3]).",
)  # fmt: skip
def init(path: Path, storage: str | None, db: str | None, name: str | None, hash_algorithm: str | None) -> None:
    """Create a flowtrail instance (.flowtrail/) in PATH."""
    from flowtrail.core.instance import init as init_instance

    instance = init_instance(path, storage=storage, db=db, name=name, hash=hash_algorithm)
    console.print(f"Created flowtrail instance [bold]{escape(instance.name)}[/bold] in {escape(str(instance.config.root))}")
    console.print(f"  registry: {escape(instance.engine.url.render_as_string(hide_password=True))}")
    console.print(f"  storage:  {escape(instance.default_storage.root)}")
    console.print(f"  hash:     {escape(instance.hash_algorithm)}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def info(as_json: bool) -> None:
    """Show the current instance: registry, storage and what it holds."""
    from flowtrail.core.db.context import current
    from flowtrail.core.instance import info as instance_info

    details = instance_info(current())
    if as_json:
        click.echo(json.dumps(details, indent=2))
        return
    rows = [("instance", details["name"]), ("folder", details["root"] or "-"), ("registry", details["db"]),
            ("storage", details["storage"]), ("openlineage", details["openlineage"])]  # fmt: skip
    rows += [(f"{name}s", f"{count:,}") for name, count in details["counts"].items()]
    if not console.is_terminal:  # piped: one "name<TAB>value" per line, nothing wrapped
        for name, value in rows:
            click.echo(f"{name}\t{value}")
        return
    table = Table(show_header=False, box=None)
    for name, value in rows:
        table.add_row(name, Text(value))
    console.print(table)


@click.command()
def migrate() -> None:
    """Upgrade the registry's schema to this flowtrail's version."""
    from flowtrail.core.db import config as cfg
    from flowtrail.core.db.migrate import current_revision, head_revision, upgrade

    config = cfg.resolve()
    before = current_revision(config.db_url)
    head = head_revision()
    if before == head:
        console.print(f"The registry is up to date (revision {head}).")
        return
    upgrade(config.db_url)
    console.print(f"Migrated the registry from revision {before or '(empty)'} to {head}.")


@click.group()
def storage() -> None:
    """Register and list storage locations."""


@storage.command("add")
@click.argument("location")
@click.option("--description", help="What this location holds.")
def storage_add(location: str, description: str | None) -> None:
    """Register LOCATION (folder or URL); files inside are then registered in place."""
    from flowtrail.core.db.context import current
    from flowtrail.core.instance import register_storage

    if "://" not in location and not os.path.isdir(location):
        raise click.BadParameter(f"{location} is not a folder; create it first or give a URL.", param_hint="LOCATION")
    registered = register_storage(current(), location, description)
    console.print(f"Registered storage {escape(registered.root)} [dim]{registered.uid}[/dim]")


@storage.command("clean")
@click.option("--older-than", "hours", type=float, default=1.0, show_default=True,
              help="Only leftovers older than this many hours (saves still running are younger).")
@click.option("--yes", is_flag=True, help="Delete them; without it, only list what would be deleted.")
def storage_clean(hours: float, yes: bool) -> None:
    """Find (and with --yes delete) what interrupted saves left in managed storage."""
    from flowtrail.core.artifacts.cleanup import leftovers, remove_leftovers
    from flowtrail.core.db.context import current
    from flowtrail.core.describe.records import human_size

    found = leftovers(current(), older_than_s=hours * 3600)
    if not found:
        console.print("No leftovers in managed storage.")
        return
    for item in found:
        console.print(f"{escape(item.location)}  [dim]{human_size(item.size)}, {escape(item.reason)}[/dim]")
    if not yes:
        console.print(f"{plural(len(found), 'leftovers')}. Run `flowtrail storage clean --yes` to delete them.")
        return
    console.print(f"Deleted {plural(remove_leftovers(found), 'leftovers')}.")


@storage.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON lines, every field in full.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row.")
def storage_list(as_json: bool, as_csv: bool) -> None:
    """List registered storage locations."""
    from flowtrail.cli.tables import Column, output_format, print_rows
    from flowtrail.core.db.context import current
    from flowtrail.core.models import Storage

    fmt = output_format(as_json, as_csv)
    instance = current()
    default = instance.default_storage.root
    columns = [Column("uid", priority=2), Column("root", path=True), Column("type", priority=1),
               Column("default", terminal=lambda d: "yes" if d else ""), Column("description", priority=3)]  # fmt: skip
    rows = [[item.uid, item.root, item.type, item.root == default, item.description]
            for item in Storage.objects(instance).order_by("id")]  # fmt: skip
    print_rows(columns, rows, fmt)
