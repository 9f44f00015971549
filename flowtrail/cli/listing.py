"""``flowtrail ls``: what is in the registry, newest first, 50 rows unless asked for more."""

from __future__ import annotations

from collections import Counter
from typing import Any

import click

from flowtrail.cli.tables import Column, footer, lines, output_format, print_rows, when

DEFAULT_LIMIT = 50
KINDS = ("artifacts", "collections", "projects", "runs", "schemas", "transforms")
_STATUS_STYLE = {"completed": "green", "failed": "bold red", "aborted": "red", "cached": "cyan", "started": "yellow"}


def _model(kind: str) -> Any:
    from flowtrail.core.models import Artifact, Collection, Project, Run, Schema, Transform

    models = {"artifacts": Artifact, "runs": Run, "transforms": Transform}
    return {**models, "collections": Collection, "projects": Project, "schemas": Schema}[kind]


def _short(record: Any) -> str | None:
    from flowtrail.core.util.short_ids import short_id

    return short_id(record) if record is not None else None


def _human_size(size: Any) -> str:
    from flowtrail.core.describe.records import human_size

    return human_size(size) if size is not None else ""


def _duration(run: Any) -> float | None:
    duration = run.duration
    return round(duration.total_seconds(), 3) if duration is not None else None


def _seconds(value: Any) -> str:
    if value is None:
        return ""
    seconds = float(value)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def columns_and_rows(kind: str, records: list[Any], repeated_keys: bool) -> tuple[list[Column], list[list[Any]]]:
    """The columns of a listing of ``kind`` and one row of values per record."""
    status = Column("status", style=lambda s: _STATUS_STYLE.get(s))
    created = Column("created_at", "created", priority=5, terminal=when)
    if kind == "runs":
        columns = [
            Column("short_id", "id"), Column("uid", table=False), Column("name", priority=1),
            Column("transform", path=True), status, Column("started_at", "started", priority=2, terminal=when),
            Column("finished_at", table=False), Column("duration_s", "took", priority=3, terminal=_seconds, right=True),
            Column("parent", priority=4), Column("parent_uid", table=False), Column("reference", table=False),
        ]  # fmt: skip
        rows = [
            [_short(r), r.uid, r.name, r.transform.key, r.status, r.started_at, r.finished_at, _duration(r),
             _short(r.parent), r.parent.uid if r.parent is not None else None, r.reference]
            for r in records
        ]  # fmt: skip
        return columns, rows
    if kind == "artifacts":
        columns = [
            Column("short_id", "id"), Column("uid", table=False), Column("key", path=True),
            Column("storage", "location", path=True, table=repeated_keys), Column("version", "v", priority=2, right=True),
            Column("size", priority=3, terminal=_human_size, right=True),
            Column("hash", priority=6, terminal=lambda h: (h or "")[:12]), Column("run", priority=4),
            Column("run_uid", table=False), created,
        ]  # fmt: skip
        rows = [
            [_short(a), a.uid, a.key, a.storage.root, a.version, a.size, a.hash, _short(a.run),
             a.run.uid if a.run is not None else None, a.created_at]
            for a in records
        ]  # fmt: skip
        return columns, rows
    if kind in ("transforms", "collections"):
        columns = [Column("short_id", "id"), Column("uid", table=False), Column("key", path=True),
                   Column("version", "v", priority=2, right=True)]  # fmt: skip
        if kind == "transforms":
            columns.append(Column("type", priority=1))
            rows = [[_short(t), t.uid, t.key, t.version, t.type, t.created_at] for t in records]
        else:
            columns += [Column("n_artifacts", "artifacts", priority=1, right=True), Column("run", priority=3)]
            rows = [[_short(c), c.uid, c.key, c.version, c.n_artifacts, _short(c.run), c.created_at] for c in records]
        return [*columns, created], rows
    if kind == "projects":
        columns = [Column("uid"), Column("name"), Column("description", priority=1), created]
        return columns, [[p.uid, p.name, p.description, p.created_at] for p in records]
    columns = [Column("uid"), Column("name"), Column("otype", priority=1), Column("itype", priority=2),
               Column("n_features", "features", priority=3, right=True), created]  # fmt: skip
    return columns, [[s.uid, s.name, s.otype, s.itype, s.n_features, s.created_at] for s in records]


def plural(count: int, noun: str) -> str:
    """``1 artifact``, ``2 artifacts`` (``noun`` is the plural)."""
    return f"{count:,} {noun[:-1] if count == 1 and noun.endswith('s') else noun}"


@click.command()
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("filters", nargs=-1)
@click.option("--where", multiple=True, help="LOOKUP=VALUE, the same as a positional filter (repeatable).")
@click.option("--limit", type=click.IntRange(min=0), help=f"Show at most this many rows (default {DEFAULT_LIMIT}).")
@click.option("--all", "show_all", is_flag=True, help="Show every matching row.")
@click.option("--order-by", "order", default="-id", show_default=True,
              help="Field to sort by; prefix '-' to reverse (default: newest first).")
@click.option("--all-versions", is_flag=True, help="Include older versions (default: latest only).")
@click.option("--search", "text", help="Only records whose text fields contain this.")
@click.option("--features", "with_features", is_flag=True, help="Add a column per feature (artifacts).")
@click.option("--json", "as_json", is_flag=True, help="JSON lines, every field in full.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row, every field in full.")
def ls(
    kind: str, filters: tuple[str, ...], where: tuple[str, ...], limit: int | None, show_all: bool, order: str,
    all_versions: bool, text: str | None, with_features: bool, as_json: bool, as_csv: bool,
) -> None:  # fmt: skip
    """List artifacts, collections, projects, runs, schemas or transforms, newest first.

    Filters are NAME__LOOKUP=VALUE on fields, relations (run__transform__key=...), run params
    (run__params__min_count=5), features (batch__gte=3) and labels (tissue=liver), as positional
    arguments or with --where; values are read by the type of what they filter. At a terminal
    the rows form a table; piped, they are tab-separated with a header line and full values.

    Example: ``flowtrail ls runs status=failed transform__key__startswith=workflow/``.
    """
    from flowtrail.core.annotations.filter_text import near_value_hint, parse_filters
    from flowtrail.core.errors import FieldError

    fmt = output_format(as_json, as_csv)
    model = _model(kind)
    if with_features and kind != "artifacts":
        raise click.BadParameter("only artifacts have features.", param_hint="--features")
    if limit is not None and show_all:
        raise click.UsageError("--limit and --all exclude each other: pick one.")
    written = (*filters, *where)
    try:
        lookups = parse_filters(model, written)
    except FieldError as error:  # a value that does not fit: a usage error, like a bad option
        raise click.BadParameter(str(error), param_hint="FILTERS") from None
    query = model.filter(**lookups)
    if hasattr(model, "is_latest") and not all_versions:
        query = query.filter(is_latest=True)
    if text:
        query = query.search(text)
    query = query.order_by(order)
    shown_limit = None if show_all else (DEFAULT_LIMIT if limit is None else limit)
    page = query[:shown_limit] if shown_limit is not None else query
    records = page.to_list()
    total = len(records) if shown_limit is None or len(records) < shown_limit else query.count()
    repeated = kind == "artifacts" and any(n > 1 for n in Counter(r.key for r in records if r.key).values())
    columns, rows = columns_and_rows(kind, records, repeated)
    if with_features:
        from flowtrail.cli.annotation_commands import feature_columns

        names, values = feature_columns(page, model)
        columns += [Column(n, priority=7, terminal=lines) for n in names]
        rows = [row + [values.get(r.id, {}).get(n) for n in names] for row, r in zip(rows, records, strict=True)]
    print_rows(columns, rows, fmt)
    if len(records) < total:
        footer(f"showing {len(records):,} of {total:,} (--limit N, --all)", fmt)
    elif fmt == "table":
        footer(plural(total, kind), fmt)
    if not records and written:
        hint = near_value_hint(model, lookups)
        message = f"No {kind} match {' '.join(written)}" + (f": {hint}" if hint else ".")
        footer(message, fmt)
