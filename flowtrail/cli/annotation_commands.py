"""Commands about annotations: ``labels import|list``, ``features list|add``, ``annotate``.

Also the feature columns ``flowtrail ls artifacts --features`` shows.
"""

from __future__ import annotations

import math
from typing import Any

import click
from rich.markup import escape

from flowtrail.cli.output import console


# -- value parsing -------------------------------------------------------------------------------
def parse_typed(dtype: str, name: str, text: str) -> Any:
    """Parse a command-line value for a feature of ``dtype``; raise ``click.BadParameter`` if it does not fit."""
    from flowtrail.core.annotations.filter_text import parse_typed_text

    try:
        return parse_typed_text(dtype, text)
    except ValueError:
        example = {"int": "3", "float": "0.5", "bool": "true or false", "date": "2025-01-31",
                   "datetime": "2025-01-31T14:30:00", "dict": '\'{"a": 1}\''}[dtype]  # fmt: skip
        raise click.BadParameter(f"{name}={text!r}: {name} has dtype {dtype}; write e.g. {name}={example}.") from None


def _split_pair(item: str, hint: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise click.BadParameter(f"{item!r} is not NAME=VALUE, e.g. {hint}")
    return name.strip(), value


def feature_columns(query: Any, model: Any) -> tuple[list[str], dict[int, dict[str, Any]]]:
    """Feature names and ``{artifact id: {feature: value}}`` of a query, via ``to_dataframe(include="features")``."""
    from sqlalchemy import inspect as sa_inspect

    from flowtrail.core.annotations.values import feature_catalog
    from flowtrail.core.db.context import current

    frame = query.to_dataframe(include="features")
    fields = {c.key for c in sa_inspect(model).column_attrs}
    names = [c for c in frame.columns if c not in fields]
    catalog = feature_catalog(current())
    values: dict[int, dict[str, Any]] = {}
    for artifact_id, row in frame[names].iterrows():
        values[int(artifact_id)] = {
            n: _python(row[n], catalog[n].dtype if n in catalog else None) for n in names if not _missing(row[n])
        }
    return names, values


def _python(value: Any, dtype: str | None) -> Any:
    """Undo pandas' widening: numpy scalars to Python, ints that became floats next to NaN back to int."""
    if hasattr(value, "item") and not isinstance(value, list | tuple):
        value = value.item()
    if dtype == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _missing(value: Any) -> bool:
    """None, NaN, or pandas' NA/NaT (nullable and datetime feature columns)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return type(value).__name__ in ("NAType", "NaTType")


# -- labels --------------------------------------------------------------------------------------
@click.group()
def labels() -> None:
    """Import ontologies as labels, and list labels."""


@labels.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--type", "type_name", required=True, help="Label type the terms belong to, e.g. CellType (created if missing).")
@click.option("--format", "fmt", type=click.Choice(["obo", "csv", "tsv"]), help="File format (default: from the suffix).")
@click.option("--prefix", help="Keep only ids with this prefix, e.g. CL (OBO files often carry other ontologies' terms).")
@click.option("--include-obsolete", is_flag=True, help="Import obsolete terms too.")
def import_labels(file: str, type_name: str, fmt: str | None, prefix: str | None, include_obsolete: bool) -> None:
    """Import the terms of a local OBO, CSV or TSV FILE as labels (never downloads anything)."""
    from flowtrail.core.annotations.ontology import import_ontology

    report = import_ontology(file, type=type_name, format=fmt, prefix=prefix, include_obsolete=include_obsolete)
    console.print(escape(str(report)))


@labels.command("list")
@click.option("--type", "type_name", help="Only labels of this type.")
@click.option("--types", "only_types", is_flag=True, help="List the label types instead.")
@click.option("--search", "text", help="Only labels whose name, synonyms, ontology id or description contain this.")
@click.option("--limit", type=click.IntRange(min=0), help="Show at most this many rows (default: all).")
@click.option("--json", "as_json", is_flag=True, help="JSON lines, every field in full.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row.")
def list_labels(
    type_name: str | None, only_types: bool, text: str | None, limit: int | None, as_json: bool, as_csv: bool
) -> None:
    """List labels (optionally of one type, or matching a text)."""
    from flowtrail.cli.listing import plural
    from flowtrail.cli.tables import Column, footer, lines, output_format, print_rows
    from flowtrail.core.annotations.vocabulary import get_type
    from flowtrail.core.models.label import Label

    fmt = output_format(as_json, as_csv)
    query = Label.filter(is_type=only_types)
    if type_name:
        query = query.filter(type_id=get_type(type_name).id)
    if text:
        query = query.search(text)
    query = query.order_by("name") if not text else query
    records = (query[:limit] if limit is not None else query).to_list()
    columns = [Column("uid", priority=3), Column("name"), Column("type", priority=1), Column("ontology_id", priority=2),
               Column("synonyms", priority=4, terminal=lines)]  # fmt: skip
    rows = [[r.uid, r.name, r.type.name if r.type_id is not None else None, r.ontology_id, r.synonym_list]
            for r in records]  # fmt: skip
    print_rows(columns, rows, fmt)
    if fmt == "table":
        footer(plural(len(records), "label types" if only_types else "labels"), fmt)


# -- features ------------------------------------------------------------------------------------
@click.group()
def features() -> None:
    """Define and list features (typed annotations of artifacts)."""


@features.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON lines, every field in full.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row.")
def list_features(as_json: bool, as_csv: bool) -> None:
    """List the registered features with their dtypes."""
    from flowtrail.cli.listing import plural
    from flowtrail.cli.tables import Column, footer, output_format, print_rows
    from flowtrail.core.models.feature import Feature

    fmt = output_format(as_json, as_csv)
    records = Feature.all().order_by("name").to_list()
    columns = [Column("name"), Column("dtype"), Column("unit", priority=2), Column("description", priority=1),
               Column("uid", priority=3)]  # fmt: skip
    print_rows(columns, [[f.name, f.dtype, f.unit, f.description, f.uid] for f in records], fmt)
    if fmt == "table":
        footer(plural(len(records), "features"), fmt)


@features.command("add")
@click.argument("name")
@click.option("--dtype", required=True, help="int, float, str, bool, date, datetime, dict, cat[Label] or cat[Label[TYPE]].")
@click.option("--description", help="What the feature means.")
@click.option("--unit", help="Unit of the values, e.g. mg/ml.")
def add_feature(name: str, dtype: str, description: str | None, unit: str | None) -> None:
    """Register a feature NAME with a dtype (the label type of cat[Label[TYPE]] must exist)."""
    from flowtrail.core.models.feature import Feature

    feature = Feature(name=name, dtype=dtype, description=description, unit=unit)
    saved = feature.save()
    verb = "Added" if saved is feature else "Already registered:"
    console.print(f"{verb} feature {escape(saved.name)} [dim]{escape(saved.dtype)} {saved.uid}[/dim]")


# -- annotate ------------------------------------------------------------------------------------
@click.command()
@click.argument("key_or_uid")
@click.argument("values", nargs=-1, required=True)
def annotate(key_or_uid: str, values: tuple[str, ...]) -> None:
    """Set feature values of an artifact: FEATURE=VALUE ... (repeat a feature for several values).

    Values are parsed by each feature's dtype (int, float, bool, ISO date/datetime, JSON for dict);
    categorical values are label names, synonyms or ontology ids. Earlier values of the given
    features are replaced; nothing is written if any value is wrong.
    """
    from flowtrail.cli.lookup import find_record
    from flowtrail.cli.tables import plain
    from flowtrail.core.annotations.values import feature_catalog
    from flowtrail.core.db.context import current
    from flowtrail.core.models.artifact import Artifact

    record = find_record(key_or_uid, command="flowtrail annotate")
    if not isinstance(record, Artifact):
        raise click.BadParameter(f"{key_or_uid} is a {type(record).__name__}, not an artifact.", param_hint="KEY_OR_UID")
    catalog = feature_catalog(current())
    grouped: dict[str, list[Any]] = {}
    problems: list[str] = []
    for item in values:
        name, text = _split_pair(item, "batch=3 or cell_type='T cell'")
        info = catalog.get(name)
        try:
            grouped.setdefault(name, []).append(parse_typed(info.dtype, name, text) if info is not None else text)
        except click.BadParameter as error:
            problems.append(error.message)
    if problems:
        raise click.BadParameter("; ".join(problems), param_hint="VALUES")
    record.features.add_values({name: items[0] if len(items) == 1 else items for name, items in grouped.items()})
    shown = " ".join(f"{name}={plain(items[0] if len(items) == 1 else items)}" for name, items in grouped.items())
    console.print(f"Annotated {escape(record.key or record.uid)} [dim]{record.uid}[/dim]: {escape(shown)}")
