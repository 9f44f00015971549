"""The workflow's source: the main Snakefile, its includes, and each rule's own block of code.

Snakemake's log events never carry a rule's code (the ``shellcmd`` of a job is already formatted
with its wildcards, so it differs from job to job). The rule's code is read from the Snakefiles
instead: a rule's block runs from its ``rule NAME:`` (or ``checkpoint NAME:``) line to the next
line indented no deeper. For ``script:`` and ``notebook:`` rules the script's text is appended, so
editing the script makes a new version of the rule's transform, as editing a shell command does.
Rules this cannot find (from ``module``s, or ``use rule``) fall back to what Snakemake's metadata
recorded for them, or to no source.
"""

import ast
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

_RULE = re.compile(r"^(?P<indent>[ \t]*)(?:rule|checkpoint)[ \t]+(?P<name>[A-Za-z_]\w*)[ \t]*:", re.MULTILINE)
_INCLUDE = re.compile(r"^[ \t]*include[ \t]*:[ \t]*(?P<q>['\"])(?P<path>[^'\"\n]+)(?P=q)", re.MULTILINE)
_DIRECTIVE = re.compile(r"^[ \t]*(?P<name>script|notebook)[ \t]*:[ \t]*(?P<rest>.*)$")
_TRIPLE = re.compile(r'"""|\'\'\'')
MAX_FILES = 200
MAX_SOURCE = 2_000_000  # characters; a Snakefile larger than this is not a Snakefile


@dataclass
class RuleSource:
    """A rule's block of code and the file that defines it."""

    code: str
    file: Path


@dataclass
class WorkflowSource:
    """The main Snakefile with its includes (in reading order) and the rules they define."""

    main: Path
    files: list[Path] = field(default_factory=list)
    texts: dict[Path, str] = field(default_factory=dict)
    rules: dict[str, RuleSource] = field(default_factory=dict)

    @property
    def code(self) -> str | None:
        """The main Snakefile's text followed by each include, marked with its path."""
        if not self.files:
            return None
        parts = [self.texts[self.files[0]]]
        for path in self.files[1:]:
            parts.append(f"\n# ---- include: {_display(path, self.main.parent)} ----\n{self.texts[path]}")
        return "".join(parts)

    def rule_code(self, name: str) -> str | None:
        """The rule's block, plus the text of its script or notebook when it has one."""
        rule = self.rules.get(name)
        if rule is None:
            return None
        code = rule.code
        script = _script_path(rule)
        if script is not None:
            try:
                text = script.read_text(errors="replace")[:MAX_SOURCE]
            except OSError:
                text = None
            if text is not None:
                code += f"\n# ---- script: {_display(script, rule.file.parent)} ----\n{text}"
        return code


def read_workflow(main: str | os.PathLike[str]) -> WorkflowSource:
    """Read the main Snakefile and (recursively) the files it includes; never raises."""
    source = WorkflowSource(Path(main))
    _read(source, Path(main))
    return source


def _read(source: WorkflowSource, path: Path) -> None:
    try:
        path = path.resolve()
    except OSError:
        return
    if path in source.texts or len(source.files) >= MAX_FILES:
        return
    try:
        text = path.read_text(errors="replace")[:MAX_SOURCE]
    except OSError:
        return
    source.files.append(path)
    source.texts[path] = text
    for name, code in rule_blocks(text).items():
        source.rules.setdefault(name, RuleSource(code, path))
    for match in _INCLUDE.finditer(text):
        included = Path(os.path.expanduser(match["path"]))
        if "://" in match["path"]:
            continue  # remote includes: nothing to read locally
        # Snakemake resolves includes against the including file's folder.
        _read(source, included if included.is_absolute() else path.parent / included)


def rule_blocks(text: str) -> dict[str, str]:
    """``{rule name: its block of code}`` for every ``rule``/``checkpoint`` with a name."""
    lines = text.splitlines()
    starts = {}
    for match in _RULE.finditer(text):
        starts[text.count("\n", 0, match.start())] = (match["name"], _width(match["indent"]))
    blocks: dict[str, str] = {}
    in_string: str | None = None
    current: tuple[str, int, int] | None = None  # name, indent, first line
    for number, line in enumerate(lines):
        code = line.strip() and not line.lstrip().startswith("#")
        if in_string is None and current is not None and code and _width(line) <= current[1]:
            blocks.setdefault(current[0], _block(lines, current[2], number, current[1]))
            current = None
        if in_string is None and number in starts:
            name, indent = starts[number]
            current = (name, indent, number)
        in_string = _track_strings(line, in_string)
    if current is not None:
        blocks.setdefault(current[0], _block(lines, current[2], len(lines), current[1]))
    return blocks


def _block(lines: list[str], start: int, end: int, indent: int) -> str:
    block = lines[start:end]
    # Blank lines and comments at the rule's own level after its body belong to what follows.
    while len(block) > 1 and (
        not block[-1].strip() or (block[-1].lstrip().startswith("#") and _width(block[-1]) <= indent)
    ):
        block.pop()
    return "\n".join(block) + "\n"


def _width(text: str) -> int:
    prefix = text[: len(text) - len(text.lstrip())]
    return len(prefix.expandtabs(4))


def _track_strings(line: str, open_quote: str | None) -> str | None:
    """Which triple quote is still open after ``line`` (comments and short strings ignored)."""
    for match in _TRIPLE.finditer(line):
        quote = match.group()
        if open_quote is None:
            open_quote = quote
        elif quote == open_quote:
            open_quote = None
    return open_quote


def _script_path(rule: RuleSource) -> Path | None:
    for line in rule.code.splitlines():
        match = _DIRECTIVE.match(line)
        if match is None:
            continue
        rest = match["rest"].split("#", 1)[0].strip()
        try:
            value = ast.literal_eval(rest)
        except (ValueError, SyntaxError):
            return None  # a computed path: nothing to read
        if not isinstance(value, str) or "://" in value or "{" in value:
            return None
        path = Path(os.path.expanduser(value))
        # Snakemake resolves scripts against the folder of the file defining the rule.
        return path if path.is_absolute() else rule.file.parent / path
    return None


def _display(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path)
