"""Printing rows: a table at a terminal; tab-separated, CSV or JSON lines anywhere else.

Every value is printed as plain text (rich ``Text``), never as markup, so ``plate[red]`` and
``clean[sample=A]`` print exactly as stored. At a terminal the table fits the width: optional
columns are dropped first (least important first), then long paths are broken after a ``/``,
never inside a name. Piped output has one row per line and full values, for ``cut`` and ``awk``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import click
from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

from flowtrail.cli.output import console, err_console

GAP = 2  # spaces between table columns


@dataclass
class Column:
    """One column: ``name`` in machine output, ``header`` at a terminal.

    ``priority`` 0 columns always stay; higher numbers are dropped first when the terminal is too
    narrow. ``path`` columns may be broken after a ``/``. ``terminal`` formats the value for a table
    cell (default: :func:`plain`); ``style`` picks a style for the cell from the value.
    """

    name: str
    header: str | None = None
    priority: int = 0
    path: bool = False
    terminal: Callable[[Any], str] | None = None
    style: Callable[[Any], str | None] | None = None
    machine: bool = True  # also in JSON/CSV/TSV
    table: bool = True  # also at a terminal
    right: bool = False


def plain(value: Any) -> str:
    """A value as text: '' for None, ISO dates, lists as JSON arrays (names may contain commas)."""
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, default=plain, ensure_ascii=False)
    return str(value)


def when(value: Any) -> str:
    """A time for a table cell, to the second."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def lines(value: Any) -> str:
    """Several values one per line (a table cell): no separator that a value could contain."""
    if isinstance(value, list | tuple):
        return "\n".join(plain(v) for v in value)
    return plain(value)


def _tsv_cell(text: str) -> str:
    # One row per line, whatever the value holds: escape as PostgreSQL's text format does.
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def machine_value(value: Any) -> Any:
    """A value for JSON: dates as ISO text, everything JSON knows as itself."""
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [machine_value(v) for v in value]
    return value


def print_rows(columns: Sequence[Column], rows: Sequence[Sequence[Any]], fmt: str) -> None:
    """Print ``rows`` (one value per column) as ``table``, ``tsv``, ``csv`` or ``json`` (JSON lines)."""
    if fmt == "table":
        if rows:  # an empty table says nothing the footer does not
            _print_table(columns, rows)
        return
    keep = [i for i, c in enumerate(columns) if c.machine]
    names = [columns[i].name for i in keep]
    if fmt == "json":
        for row in rows:
            click.echo(json.dumps({n: machine_value(row[i]) for n, i in zip(names, keep, strict=True)},
                                  default=plain, ensure_ascii=False))  # fmt: skip
        return
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(names)
        for row in rows:
            writer.writerow([plain(row[i]) for i in keep])
        return
    click.echo("\t".join(names))
    for row in rows:
        click.echo("\t".join(_tsv_cell(plain(row[i])) for i in keep))


def output_format(as_json: bool, as_csv: bool) -> str:
    """``json``/``csv`` when asked for, else a table at a terminal and TSV when piped."""
    if as_json and as_csv:
        raise click.UsageError("--json and --csv exclude each other: pick one.")
    if as_json:
        return "json"
    if as_csv:
        return "csv"
    return "table" if console.is_terminal else "tsv"


def footer(message: str, fmt: str) -> None:
    """A line about the listing (e.g. how many rows were left out): under a table, else on stderr."""
    if fmt == "table":
        console.print(Text(message, style="dim"))
    else:
        err_console.print(Text(message), highlight=False, soft_wrap=True)


def _print_table(columns: Sequence[Column], rows: Sequence[Sequence[Any]]) -> None:
    shown = [i for i, c in enumerate(columns) if c.table]
    cells = {i: [(columns[i].terminal or plain)(row[i]) for row in rows] for i in shown}
    shown = [i for i in shown if columns[i].priority == 0 or any(cells[i])]  # an empty optional column says nothing
    width = console.width
    widths = {i: _width(columns[i], cells[i]) for i in shown}
    # Least important columns go first; then long paths break after a '/'; then the rest if need be.
    for keep_from in (2, 1):
        _drop(columns, widths, width, keep_from)
        _wrap_paths(columns, widths, cells, width)
    table = Table(box=None, padding=(0, GAP, 0, 0), pad_edge=False, show_edge=False, header_style="bold", expand=False)
    kept = [i for i in shown if i in widths]
    for i in kept:
        column = columns[i]
        table.add_column(column.header or column.name, no_wrap=True, overflow="ignore",
                         justify="right" if column.right else "left", min_width=widths[i])  # fmt: skip
    for index, row in enumerate(rows):
        table.add_row(*[Text(cells[i][index], style=_style(columns[i], row[i])) for i in kept])
    console.print(table, crop=False)


def _drop(columns: Sequence[Column], widths: dict[int, int], width: int, keep_from: int) -> None:
    """Drop optional columns of priority >= ``keep_from``, least important first, until the table fits."""
    while _total(widths) > width:
        optional = [i for i in widths if columns[i].priority >= keep_from]
        if not optional:
            return
        del widths[max(optional, key=lambda i: (columns[i].priority, i))]


def _wrap_paths(columns: Sequence[Column], widths: dict[int, int], cells: dict[int, list[str]], width: int) -> None:
    """Break the widest path column's cells after '/' until the table fits or nothing more can be gained."""
    while _total(widths) > width:
        paths = [i for i in widths if columns[i].path and widths[i] > _header_width(columns[i])]
        if not paths:
            return
        widest = max(paths, key=lambda i: widths[i])
        budget = max(_header_width(columns[widest]), widths[widest] - (_total(widths) - width))
        cells[widest] = [wrap_path(text, budget) for text in cells[widest]]
        before, widths[widest] = widths[widest], _width(columns[widest], cells[widest])
        if widths[widest] > budget or widths[widest] == before:  # a name longer than the budget
            return


def _style(column: Column, value: Any) -> str:
    return (column.style(value) if column.style else None) or ""


def _header_width(column: Column) -> int:
    return cell_len(column.header or column.name)


def _width(column: Column, texts: list[str]) -> int:
    longest = max((cell_len(line) for text in texts for line in text.split("\n")), default=0)
    return max(_header_width(column), longest)


def _total(widths: dict[int, int]) -> int:
    return sum(widths.values()) + GAP * max(len(widths) - 1, 0)


def wrap_path(text: str, width: int) -> str:
    """Break ``text`` into lines of at most ``width`` cells, after a ``/`` (or a space) where possible.

    Only a single name longer than ``width`` is cut inside; everything else stays whole.
    """
    if cell_len(text) <= width or width <= 0:
        return text
    pieces: list[str] = []
    start = 0
    for index, char in enumerate(text):
        if char in "/ ":
            pieces.append(text[start : index + 1])
            start = index + 1
    pieces.append(text[start:])
    out: list[str] = []
    line = ""
    for piece in pieces:
        if line and cell_len(line + piece) > width:
            out.append(line)
            line = ""
        while cell_len(piece) > width:  # one name longer than the column: fold it
            room = width - cell_len(line)
            if room <= 0:
                out.append(line)
                line, room = "", width
            line, piece = line + piece[:room], piece[room:]
            out.append(line)
            line = ""
        line += piece
    if line:
        out.append(line)
    return "\n".join(out)
