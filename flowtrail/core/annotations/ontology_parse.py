"""Reading ontology terms from local files: OBO 1.2/1.4 and CSV/TSV tables.

Only what a label needs is kept: id, name, definition, synonyms (all scopes, or the ones asked
for) and ``is_a`` parents. Other tags, ``[Typedef]`` and ``[Instance]`` stanzas are skipped.
Every problem names the file and line and says how to fix it; parsing never touches a database,
so a bad file cannot leave a half-done import behind.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from flowtrail.core.errors import FlowtrailError

CSV_COLUMNS = ("name", "ontology_id", "synonyms", "parents", "description")
REQUIRED_CSV_COLUMNS = ("name", "ontology_id")
SYNONYM_SCOPES = ("EXACT", "RELATED", "NARROW", "BROAD")
_ESCAPES = {"n": "\n", "t": "\t", "W": " "}
_STANZA = re.compile(r"^\[(?P<kind>[A-Za-z]+)\]\s*(?:!.*)?$")


class OntologyImportError(FlowtrailError, ValueError):
    """An ontology file could not be read or imported; nothing was written."""


@dataclass
class Term:
    """One ontology term as read from a file (``line`` is where its stanza or row starts)."""

    ontology_id: str
    name: str
    line: int
    description: str | None = None
    synonyms: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    obsolete: bool = False


@dataclass
class ParsedFile:
    """The terms of a file plus what the header says and what was skipped."""

    terms: list[Term]
    data_version: str | None = None
    skipped_stanzas: int = 0
    dropped_synonyms: int = 0
    ignored_columns: list[str] = field(default_factory=list)


def _fail(path: Path, line: int | None, message: str) -> OntologyImportError:
    where = f"{path}, line {line}" if line is not None else str(path)
    return OntologyImportError(f"{where}: {message}")


# -- OBO -----------------------------------------------------------------------------------------
def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, line) with backslash-continued physical lines joined."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        stripped = raw.rstrip()
        trailing = len(stripped) - len(stripped.rstrip("\\"))
        if trailing % 2 == 1:  # an unescaped backslash at the end continues the line
            pending.append(stripped[:-1])
            continue
        pending.append(raw)
        yield start, "".join(pending)
        pending = []
    if pending:
        yield start, "".join(pending)


def _unescape(text: str) -> str:
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            nxt = next(chars, "")
            out.append(_ESCAPES.get(nxt, nxt))
        else:
            out.append(char)
    return "".join(out)


def _strip_comment(value: str) -> str:
    """Drop an unescaped ``! comment`` outside quotes (``{modifiers}`` are dropped where they matter)."""
    in_quote = escaped = False
    for index, char in enumerate(value):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            in_quote = not in_quote
        elif char == "!" and not in_quote:
            value = value[:index]
            break
    return value.strip()


def _quoted(value: str, path: Path, line: int, tag: str) -> tuple[str, str]:
    """Split ``"text" rest`` into (unescaped text, rest); fail on a missing or unclosed quote."""
    if not value.startswith('"'):
        raise _fail(path, line, f'{tag}: expected a quoted text, e.g. {tag}: "..." [], got {value[:60]!r}.')
    escaped = False
    for index in range(1, len(value)):
        char = value[index]
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            return _unescape(value[1:index]), value[index + 1 :].strip()
    raise _fail(
        path, line,
        f"{tag}: the quoted text is never closed. Close it with '\"' on the same line "
        "(escape quotes inside it as \\\", continue long lines with a trailing backslash).",
    )  # fmt: skip


def parse_obo(path: Path, text: str, *, synonym_scopes: Iterable[str] | None = None) -> ParsedFile:
    """Parse OBO text into terms; raise :class:`OntologyImportError` naming the offending line."""
    scopes = {s.upper() for s in synonym_scopes} if synonym_scopes is not None else set(SYNONYM_SCOPES)
    parsed = ParsedFile(terms=[])
    current: dict[str, object] | None = None
    in_header = True

    def finish() -> None:
        if current is None:
            return
        start = int(current["line"])  # type: ignore[call-overload]
        if "id" not in current:
            raise _fail(path, start, "this [Term] has no 'id:' line; add one, e.g. 'id: CL:0000000'.")
        if "name" not in current and not current.get("obsolete"):
            raise _fail(path, start, f"term {current['id']} has no 'name:' line; add its name.")
        parsed.terms.append(Term(
            ontology_id=str(current["id"]), name=str(current.get("name") or current["id"]), line=start,
            description=current.get("def"), synonyms=current["synonyms"], parents=current["parents"],  # type: ignore[arg-type]
            obsolete=bool(current.get("obsolete")),
        ))  # fmt: skip

    for number, line in _logical_lines(text.lstrip("\ufeff")):
        stripped = line.strip()
        if not stripped or stripped.startswith("!"):
            continue
        if stripped.startswith("["):
            match = _STANZA.match(stripped)
            if not match:
                raise _fail(path, number, f"{stripped!r} is not a stanza header; write [Term] or [Typedef].")
            finish()
            in_header, in_term = False, match.group("kind") == "Term"
            current = {"line": number, "synonyms": [], "parents": []} if in_term else None
            parsed.skipped_stanzas += 0 if in_term else 1
            continue
        tag, sep, raw = stripped.partition(":")
        if not sep or not tag or " " in tag:
            raise _fail(path, number, f"expected 'tag: value', got {stripped[:80]!r}.")
        tag = tag.strip()
        if current is None:
            if in_header and tag == "data-version":
                parsed.data_version = _strip_comment(raw) or None
            continue
        value = _strip_comment(raw)
        if tag in ("id", "name", "is_a") and not value:
            raise _fail(path, number, f"'{tag}:' has no value.")
        if tag in ("id", "name"):
            if tag in current:
                raise _fail(path, number, f"a second '{tag}:' line in one [Term]; keep one.")
            current[tag] = _unescape(value)
        elif tag == "def":
            current["def"] = _quoted(value, path, number, "def")[0]
        elif tag == "synonym":
            synonym, rest = _quoted(value, path, number, "synonym")
            scope = rest.split()[0].upper() if rest.split() else "RELATED"
            if scope not in SYNONYM_SCOPES:
                raise _fail(path, number, f"synonym scope {scope!r} is not one of {', '.join(SYNONYM_SCOPES)}.")
            if scope in scopes:
                current["synonyms"].append(synonym)  # type: ignore[attr-defined]
        elif tag == "is_a":
            current["parents"].append(value.split()[0])  # type: ignore[attr-defined]
        elif tag == "is_obsolete":
            current["obsolete"] = value.split()[0].lower() == "true" if value else False
    finish()
    return parsed


# -- CSV / TSV -----------------------------------------------------------------------------------
def _split(cell: str | None) -> list[str]:
    return [part.strip() for part in (cell or "").split("|") if part.strip()]


def parse_table(path: Path, text: str, delimiter: str) -> ParsedFile:
    """Parse a CSV/TSV with the columns in :data:`CSV_COLUMNS` (``name`` and ``ontology_id`` required)."""
    reader = csv.DictReader(text.lstrip("\ufeff").splitlines(), delimiter=delimiter)
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_CSV_COLUMNS if c not in header]
    if missing:
        raise _fail(
            path, 1,
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; the header must name "
            f"{', '.join(REQUIRED_CSV_COLUMNS)} (optional: synonyms, parents, description; lists are "
            f"'|'-separated, parents are ontology ids). Found: {', '.join(header) or 'no header'}.",
        )  # fmt: skip
    reader.fieldnames = header
    parsed = ParsedFile(terms=[], ignored_columns=[h for h in header if h not in CSV_COLUMNS])
    for row in reader:
        number = reader.line_num
        if None in row:
            raise _fail(path, number, f"more cells than the {len(header)} header columns; quote cells that contain '{delimiter}'.")
        if not any((v or "").strip() for v in row.values()):
            continue
        name, term_id = (row.get("name") or "").strip(), (row.get("ontology_id") or "").strip()
        if not name or not term_id:
            raise _fail(path, number, f"empty {'name' if not name else 'ontology_id'}; every row needs both.")
        description = (row.get("description") or "").strip() or None
        parsed.terms.append(Term(term_id, name, number, description, _split(row.get("synonyms")), _split(row.get("parents"))))
    return parsed


def read_terms(
    path: str | Path, fmt: str | None = None, *, synonym_scopes: Iterable[str] | None = None
) -> tuple[str, ParsedFile]:
    """Read a local ontology file; return its format (obo, csv or tsv) and its terms."""
    source = Path(path)
    if "://" in str(path):
        raise OntologyImportError(f"{path}: imports read local files only; download the file first.")
    if not source.is_file():
        raise _fail(source, None, "no such file; check the path (imports read local files only).")
    fmt = (fmt or "").lower() or {".obo": "obo", ".csv": "csv", ".tsv": "tsv", ".tab": "tsv"}.get(source.suffix.lower(), "")
    if fmt not in ("obo", "csv", "tsv"):
        raise _fail(source, None, f"cannot tell the format from {source.suffix!r}; pass format='obo', 'csv' or 'tsv'.")
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise _fail(source, None, f"not UTF-8 text ({error}); convert it to UTF-8.") from None
    if fmt == "obo":
        parsed = parse_obo(source, text, synonym_scopes=synonym_scopes)
    else:
        parsed = parse_table(source, text, "," if fmt == "csv" else "\t")
    _check_ids(source, parsed.terms)
    _clean_synonyms(parsed)
    return fmt, parsed


def _check_ids(path: Path, terms: list[Term]) -> None:
    seen: dict[str, int] = {}
    for term in terms:
        if term.ontology_id in seen:
            raise _fail(
                path, term.line,
                f"duplicate id {term.ontology_id} (first at line {seen[term.ontology_id]}); each term must appear once.",
            )  # fmt: skip
        seen[term.ontology_id] = term.line
        if term.ontology_id in term.parents:
            raise _fail(path, term.line, f"{term.ontology_id} lists itself as a parent; remove that is_a/parent.")


def _clean_synonyms(parsed: ParsedFile) -> None:
    """Drop synonyms equal to the name, repeated ones, and ones containing the '|' separator."""
    for term in parsed.terms:
        kept: list[str] = []
        for synonym in term.synonyms:
            if "|" in synonym:
                parsed.dropped_synonyms += 1
            elif synonym and synonym != term.name and synonym not in kept:
                kept.append(synonym)
        term.synonyms = kept
