"""Reading events from files: a JSON object, a JSON array, or NDJSON (the client's file transport).

NDJSON is streamed line by line, so a file of a million events is never held in memory.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from flowtrail.integrations.openlineage.json_door import RefusedJson, parse_text


@dataclass
class Item:
    """One event read from a file, or the reason a piece of the file is not an event."""

    source: str  # "file.ndjson:12"
    event: Any = None
    error: str | None = None
    text: str | None = None  # the event's JSON as it stands in the file (NDJSON lines only)


def _open(raw: BinaryIO, path: Path) -> TextIO:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.GzipFile(fileobj=raw), encoding="utf-8")
    return io.TextIOWrapper(raw, encoding="utf-8")


def read_events(path: Path, position: list[int] | None = None) -> Iterator[Item]:
    """Every event in ``path``; malformed JSON becomes an Item with an error naming the line.

    ``position``, if given, holds in its one element how many bytes of the file (as stored, so
    compressed for ``.gz``) have been read so far: a progress bar's measure.
    """
    with path.open("rb") as raw, _open(raw, path) as handle:
        for item in _items(path, handle):
            if position is not None:
                position[0] = raw.tell()
            yield item


def _items(path: Path, handle: TextIO) -> Iterator[Item]:
    first = ""
    while True:
        char = handle.read(1)
        if not char or not char.isspace():
            first = char
            break
    if first == "[":
        rest = handle.read()
        try:
            events = parse_text(first + rest)
        except RefusedJson as exc:
            yield Item(f"{path}", error=f"invalid JSON array: {exc}")
            return
        for index, event in enumerate(events):
            yield Item(f"{path}[{index}]", event)
        return
    text = first + handle.readline()
    number = 1
    # A pretty-printed single object spans lines: try the whole file once if line 1 fails.
    try:
        parsed = parse_text(text) if text.strip() else None
    except RefusedJson as exc:
        if exc.status != 400:  # valid JSON that cannot be stored: report line 1, go on
            yield Item(f"{path}:1", error=str(exc))
            text = ""
        parsed = None
    if parsed is None and text.strip():
        whole = text + handle.read()
        try:
            yield Item(f"{path}", parse_text(whole))
        except RefusedJson:
            # Not one object either: report line by line so good lines are not lost.
            for number, line in enumerate(whole.splitlines(), start=1):
                if line.strip():
                    yield _line_item(path, number, line)
        return
    if parsed is not None:
        yield Item(f"{path}:1", parsed, text=text.rstrip("\r\n"))
    for line in handle:
        number += 1
        if line.strip():
            yield _line_item(path, number, line)


def _line_item(path: Path, number: int, line: str) -> Item:
    try:
        return Item(f"{path}:{number}", parse_text(line), text=line.rstrip("\r\n"))
    except RefusedJson as exc:  # not JSON, or JSON no registry can store and read back
        return Item(f"{path}:{number}", error=str(exc))
