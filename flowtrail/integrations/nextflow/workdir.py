"""Reading a Nextflow task work directory: declared outputs, staged inputs, exit code, stderr.

nextflowpy cannot tell these apart, so the adapter reads the work dir itself:

- **Declared outputs.** nextflowpy's ``all_output_data()`` lists every file that is not a
  ``.command*`` file or a staged input, scratch files included. Only the wrapper knows what the
  process declared: ``.command.run`` starts with a header listing one ``### - 'pattern'`` line per
  declared output file pattern. Matching those patterns the way Nextflow does (Java glob syntax,
  no hidden files, staged inputs excluded, links followed) gives the task's real outputs.
- **Staged inputs.** nextflowpy's ``input_data()`` regex-matches ``ln -s SRC `` in ``nxf_stage``,
  which breaks on shell-escaped paths (``my\\ file.txt``), ``ln -sfn`` (Nextflow >= 26.07),
  relative links (``stageInMode 'rellink'``), hard links, nested names (``mkdir -p d && ln ...``),
  object-store downloads (``nxf_s3_download``) and staging moved to ``.command.stage``. Here every
  staging line is split with :mod:`shlex` and each form is understood.
- **Exit code and error.** ``.exitcode`` and the tail of ``.command.err`` (read from the end, so
  a task that wrote gigabytes to stderr costs nothing) explain a failed task.

Every read goes through fsspec (see :mod:`._fs`), so work dirs on object storage work the same.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from flowtrail.integrations.nextflow import _fs

COMMAND_RUN = ".command.run"
COMMAND_STAGE = ".command.stage"
COMMAND_ERR = ".command.err"
COMMAND_SH = ".command.sh"
EXITCODE = ".exitcode"
_GLOB_CHARS = re.compile(r"[*?\[{]")
_HEX = re.compile(r"^[0-9a-f]+$")
_DOWNLOAD = re.compile(r"^downloads\+=\((.*)\)\s*$")


@dataclass(frozen=True)
class Staged:
    """One input file staged into the work dir: its name there and where it came from."""

    name: str  # relative to the work dir, e.g. "reads/a.fq" or "my file.txt"
    source: str  # absolute local path or URL
    mode: str  # symlink, rellink, link, copy or download


@dataclass
class Header:
    """The ``### ---`` header of ``.command.run``."""

    name: str | None = None
    container: str | None = None
    outputs: list[str] = field(default_factory=list)


def parse_header(text: str) -> Header:
    """Task name, container and declared output patterns from the wrapper's header comment."""
    header = Header()
    in_outputs = False
    for line in text.splitlines()[:5000]:
        if not line.startswith("###"):
            if line.startswith("#!"):
                continue
            break
        body = line[3:].strip()
        if body in ("---", ""):
            continue
        if body == "...":
            break
        if body.startswith("name:"):
            header.name = _unquote(body[5:].strip())
            in_outputs = False
        elif body.startswith("container:"):
            header.container = _unquote(body[10:].strip())
            in_outputs = False
        elif body == "outputs:":
            in_outputs = True
        elif in_outputs and body.startswith("- "):
            header.outputs.append(_unquote(body[2:].strip()))
    return header


def _unquote(value: str) -> str:
    # Nextflow writes '...' around the value without escaping quotes inside: strip one pair.
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _function_body(text: str, name: str) -> list[str]:
    # .command.run is a few hundred lines (more with a trace): find the function, split only it.
    head = f"{name}()"
    at = 0 if text.startswith(head) else _line_starting(text, head, 0)
    while at >= 0:
        end = text.find("\n", at)
        line = text[at:] if end < 0 else text[at:end]
        if line.rstrip().endswith("{"):
            if end < 0:
                return []
            stop = text.find("\n}", end)
            return text[end + 1 : stop + 1 if stop >= 0 else len(text)].splitlines()
        at = _line_starting(text, head, at)
    return []


def _line_starting(text: str, head: str, after: int) -> int:
    """Where the next line after position ``after`` that starts with ``head`` begins (-1: none)."""
    found = text.find("\n" + head, after)
    return found + 1 if found >= 0 else -1


def parse_staging(text: str, workdir: str, stage_text: str | None = None) -> list[Staged]:
    """Staged inputs from the ``nxf_stage`` function of ``.command.run`` (and ``.command.stage``).

    ``stage_text`` is the content of ``.command.stage`` when the wrapper delegates to it.
    """
    staged: dict[str, Staged] = {}
    lines = _function_body(text, "nxf_stage")
    if not lines and "nxf_stage" not in text:
        lines = text.splitlines()  # a bare .command.stage file
    for line in lines:
        for command in _commands(line):
            if any(token.endswith(COMMAND_STAGE) for token in command) and stage_text is not None:
                for item in parse_staging(stage_text, workdir, None):
                    staged[item.name] = item
                continue
            item = _staged_from(command, workdir)
            if item is not None:
                staged[item.name] = item
    return list(staged.values())


def _commands(line: str) -> list[list[str]]:
    line = line.strip()
    if not line or line.startswith("#"):
        return []
    match = _DOWNLOAD.match(line)
    if match:  # downloads+=("nxf_s3_download s3://bucket/x.txt x.txt")
        try:
            inner = shlex.split(match.group(1))
        except ValueError:
            return []
        line = " ".join(inner)
    try:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:
        return []
    commands: list[list[str]] = [[]]
    for token in tokens:
        if token in ("&&", ";", "||", "&", "|"):
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def _staged_from(command: list[str], workdir: str) -> Staged | None:
    program, args = command[0], command[1:]
    operands = [a for a in args if not a.startswith("-")]
    flags = "".join(a.lstrip("-") for a in args if a.startswith("-") and not a.startswith("--"))
    if program == "ln" and len(operands) >= 2:
        source, name = operands[-2], operands[-1]
        if "s" not in flags:
            mode = "link"
        elif not source.startswith("/") and not _fs.is_url(source):
            mode = "rellink"
        else:
            mode = "symlink"
    elif program == "cp" and len(operands) >= 2:
        source, name, mode = operands[-2], operands[-1], "copy"
    elif program.startswith("nxf_") and ("download" in program or program.endswith("_copy")) and len(operands) >= 2:
        source, name, mode = operands[0], operands[1], "download"
    else:
        return None
    name = posixpath.normpath(name)
    if name.startswith("/") or _fs.is_url(name):
        return None
    if mode == "rellink":
        # A relative link resolves against the folder that holds the link.
        source = _fs.join(_fs.dirname(_fs.join(workdir, name)), source)
    return Staged(name=name, source=_fs.normalize(source), mode=mode)


# -- Nextflow's output globbing -------------------------------------------------------------------


def has_glob(pattern: str) -> bool:
    return bool(_GLOB_CHARS.search(pattern))


@lru_cache(maxsize=1024)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a Java ``glob:`` pattern (``*``, ``**``, ``?``, ``[...]``, ``{a,b}``)."""
    out, i, in_group = [], 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            if pattern.startswith("**", i):
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                body = body.replace("\\", "\\\\")
                out.append(f"[{body}]")
                i = end + 1
                continue
        elif char == "{" and not in_group:
            out.append("(?:")
            in_group = True
        elif char == "}" and in_group:
            out.append(")")
            in_group = False
        elif char == "," and in_group:
            out.append("|")
        elif char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z")


def match_outputs(
    workdir: str, patterns: Iterable[str], staged_names: Iterable[str] = (), *, hidden: bool = False
) -> list[str]:
    """Relative paths in ``workdir`` matching the declared output patterns, as Nextflow collects them.

    Literal names are looked up directly; glob patterns are matched against the work dir's
    entries (to the pattern's depth, or all the way down for ``**``), skipping hidden entries
    (unless the pattern asks for them), the wrapper's own files and staged inputs. A path inside
    a matched folder is not listed again: the folder is the output.
    """
    staged = {posixpath.normpath(n) for n in staged_names}
    found: list[str] = []
    listing: dict[str, list[tuple[str, bool]]] = {}

    def entries(rel: str) -> list[tuple[str, bool]]:
        if rel not in listing:
            listing[rel] = _fs.listdir(_fs.join(workdir, rel) if rel else workdir)
        return listing[rel]

    for raw in patterns:
        pattern = raw.rstrip("/") if len(raw) > 1 else raw
        pattern = pattern.removeprefix("./")
        if not pattern:
            continue
        if not has_glob(pattern):
            if pattern in staged:
                continue  # an input passed through, not made here
            if _fs.exists(_fs.join(workdir, pattern)):
                found.append(pattern)
            continue
        regex = glob_regex(pattern)
        max_depth = None if "**" in pattern else pattern.count("/") + 1
        want_hidden = hidden or any(seg.startswith(".") for seg in pattern.split("/"))
        stack = [("", 0)]
        while stack:
            rel, depth = stack.pop()
            for name, is_dir in entries(rel):
                child = f"{rel}/{name}" if rel else name
                if child in staged or name.startswith(".command") or name == EXITCODE:
                    continue
                if name.startswith(".") and not want_hidden:
                    continue
                if regex.match(child):
                    found.append(child)
                if is_dir and (max_depth is None or depth + 1 < max_depth):
                    stack.append((child, depth + 1))
    unique = sorted(set(found))
    folders = [p for p in unique if _fs.isdir(_fs.join(workdir, p))] if len(unique) > 1 else []
    return [p for p in unique if not any(p.startswith(f + "/") for f in folders)]


# -- the work dir -------------------------------------------------------------------------------


class WorkDir:
    """One task work directory, local or on object storage."""

    def __init__(self, location: str) -> None:
        self.location = _fs.normalize(location)

    def __repr__(self) -> str:
        return f"WorkDir({self.location!r})"

    def path(self, name: str) -> str:
        return _fs.join(self.location, name)

    @property
    def full_hash(self) -> str | None:
        """The 32-hex task hash the folder is named after (``<workDir>/ab/cdef...``)."""
        parent = _fs.basename(_fs.dirname(self.location))
        leaf = _fs.basename(self.location)
        candidate = parent + leaf
        return candidate if len(parent) == 2 and _HEX.match(candidate) else None

    @cached_property
    def wrapper(self) -> str | None:
        return _fs.read_text(self.path(COMMAND_RUN))

    @cached_property
    def header(self) -> Header:
        return parse_header(self.wrapper or "")

    @cached_property
    def staged(self) -> list[Staged]:
        wrapper = self.wrapper
        if wrapper is None:
            return []
        stage_text = _fs.read_text(self.path(COMMAND_STAGE)) if COMMAND_STAGE in wrapper else None
        return parse_staging(wrapper, self.location, stage_text)

    def declared_outputs(self) -> list[str]:
        """Absolute locations of the files and folders matching the declared output patterns."""
        names = match_outputs(self.location, self.header.outputs, [s.name for s in self.staged])
        return [self.path(name) for name in names]

    def exit_code(self) -> int | None:
        text = _fs.read_text(self.path(EXITCODE))
        try:
            return int(text.strip()) if text and text.strip() else None
        except ValueError:
            return None

    def stderr_tail(self, lines: int = 20, max_bytes: int = 16_384) -> str:
        text = _fs.read_tail(self.path(COMMAND_ERR), max_bytes) or ""
        return "\n".join(text.rstrip().splitlines()[-lines:])

    def script(self) -> str | None:
        return _fs.read_text(self.path(COMMAND_SH))
