"""Commands about registry content: ls, describe, save, load."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from .output import byte_progress, console, parse_value

LS_COLUMNS = {
    "artifacts": ("uid", "key", "version", "size", "hash", "run.uid", "created_at"),
    "runs": ("uid", "transform.key", "status", "started_at", "finished_at", "parent.uid", "reference"),
    "transforms": ("uid", "key", "version", "type", "created_at"),
    "collections": ("uid", "key", "version", "n_artifacts", "run.uid", "created_at"),
    "projects": ("uid", "name", "description", "created_at"),
    "schemas": ("uid", "name", "otype", "itype", "n_features", "created_at"),
}


def _model(kind: str) -> Any:
    from ..core.models import Artifact, Collection, Project, Run, Schema, Transform

    models = {"artifacts": Artifact, "runs": Run, "transforms": Transform}
    return {**models, "collections": Collection, "projects": Project, "schemas": Schema}[kind]


def _parse_filters(filters: tuple[str, ...]) -> dict[str, Any]:
    lookups = {}
    for item in filters:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{item!r} is not FIELD=VALUE, e.g. key__startswith=raw/", param_hint="FILTERS")
        lookups[name] = parse_value(value)
    return lookups


@click.command()
@click.argument("kind", type=click.Choice(sorted(LS_COLUMNS)))
@click.argument("filters", nargs=-1)
@click.option("--all-versions", is_flag=True, help="Include older versions (default: latest only).")
@click.option("--order-by", "order", default="id", show_default=True, help="Field to sort by; prefix '-' to reverse.")
@click.option("--limit", type=int, help="Show at most this many rows.")
@click.option("--search", "text", help="Only records whose text fields contain this.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@click.option("--where", multiple=True, help="LOOKUP=VALUE on fields, features or labels (repeatable), e.g. batch__gte=3.")
@click.option("--features", "with_features", is_flag=True, help="Add a column per feature (artifacts).")
def ls(
    kind: str, filters: tuple[str, ...], all_versions: bool, order: str, limit: int | None, text: str | None,
    as_json: bool, where: tuple[str, ...], with_features: bool,
) -> None:  # fmt: skip
    """List artifacts, runs, transforms, collections, projects or schemas, filtered by FIELD=VALUE lookups.

    Example: ``flowtrail ls artifacts size__gt=100 --where batch__gte=3 --where tissue=liver --features``.
    """
    from .annotation_commands import feature_columns, show, where_lookups

    model = _model(kind)
    if with_features and kind != "artifacts":
        raise click.BadParameter("only artifacts have features.", param_hint="--features")
    lookups = {**_parse_filters(filters), **(where_lookups(where) if kind == "artifacts" else _parse_filters(where))}
    query = model.filter(**lookups).order_by(order)
    if hasattr(model, "is_latest") and not all_versions:
        query = query.filter(is_latest=True)
    if text:
        query = query.search(text)
    if limit is not None:
        query = query[:limit]
    rows = query.to_list()
    columns = LS_COLUMNS[kind]
    names, values = feature_columns(query, model) if with_features else ([], {})
    if as_json:
        for row in rows:
            extra = {n: _plain(values.get(row.id, {}).get(n)) for n in names}
            click.echo(json.dumps({**{c: _plain(_get(row, c)) for c in columns}, **extra}, default=show))
        return
    table = Table(*columns, *names)
    for row in rows:
        table.add_row(*[_cell(_get(row, c)) for c in columns], *[show(values.get(row.id, {}).get(n)) for n in names])
    console.print(table)
    console.print(f"[dim]{len(rows)} {kind}[/dim]")


def _get(record: Any, column: str) -> Any:
    value = record
    for part in column.split("."):
        value = getattr(value, part, None) if value is not None else None
    return value


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


@click.command()
@click.argument("uid_or_key")
def describe(uid_or_key: str) -> None:
    """Show an artifact, run or transform by uid (or prefix) or key."""
    from ..core.lookup import find_record

    find_record(uid_or_key).describe()


@click.command()
@click.argument("path")
@click.option("--key", help="Key to register under (default: path inside its storage, or none).")
@click.option("--description", help="What this artifact is.")
def save(path: str, key: str | None, description: str | None) -> None:
    """Register the file, folder or URL at PATH."""
    from ..core.models import Artifact
    from ..core.saving import save_artifacts

    artifact = Artifact(path, key=key, description=description)
    total = _local_size(path)
    with byte_progress(total, f"hashing {os.path.basename(path)}") as progress:
        registered = save_artifacts([artifact], progress=progress)[0]
    verb = "Saved" if registered is artifact else "Already registered:"
    console.print(f"{verb} {registered.key or '(no key)'} v{registered.version} [dim]{registered.uid}[/dim]")


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
    from ..core.lookup import find_record
    from ..core.models import Artifact

    record = find_record(uid_or_key)
    if not isinstance(record, Artifact):
        raise click.BadParameter(f"{uid_or_key} is a {type(record).__name__}, not an artifact.")
    click.echo(str(record.cache()))
