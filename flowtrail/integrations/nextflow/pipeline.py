"""The pipeline's code: its main script, process definitions, identity and command-line params.

A process's Transform holds the process definition as written in the ``.nf`` file (directives,
inputs, outputs and the script template), so all tasks of a process share one Transform version
and a change of the process code makes a new version. Each task's interpolated script stays in
its work dir (``.command.sh``) and, with lineage enabled, in its ``TaskRun`` record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PROCESS = re.compile(r"(?m)^[ \t]*process\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{")
_INCLUDE = re.compile(r"include\s*\{([^}]*)\}\s*from\s*['\"]([^'\"]+)['\"]", re.DOTALL)
_URL_PIPELINE = re.compile(r"^(?:https?://|git@|ssh://)")


def _block_end(text: str, open_brace: int) -> int:
    """Index just past the ``}`` closing the ``{`` at ``open_brace``, skipping strings and comments."""
    depth, i, n = 0, open_brace, len(text)
    while i < n:
        if text.startswith(('"""', "'''"), i):
            quote = text[i : i + 3]
            end = text.find(quote, i + 3)
            while end != -1 and text[end - 1] == "\\":
                end = text.find(quote, end + 1)
            i = n if end == -1 else end + 3
            continue
        char = text[i]
        if char in "\"'":
            j = i + 1
            while j < n and text[j] != char and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end == -1 else end
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end == -1 else end + 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n


def process_definitions(text: str) -> dict[str, str]:
    """``{name: source}`` of every ``process NAME { ... }`` in a script."""
    found: dict[str, str] = {}
    for match in _PROCESS.finditer(text):
        start = match.start()
        end = _block_end(text, match.end() - 1)
        found.setdefault(match.group(1), text[start:end].strip("\n"))
    return found


def includes(text: str) -> list[tuple[str, str, str]]:
    """``(name, alias, module path)`` of each ``include { A; B as C } from './m'``."""
    out = []
    for names, source in _INCLUDE.findall(text):
        for item in re.split(r"[;\n]", names):
            parts = item.strip().split()
            if not parts:
                continue
            name = parts[0]
            alias = parts[2] if len(parts) >= 3 and parts[1] == "as" else name
            out.append((name, alias, source))
    return out


class ProcessSources:
    """Process definitions of a pipeline, looked up by (possibly qualified or aliased) name."""

    def __init__(self, script_files: Iterable[str]) -> None:
        self._definitions: dict[str, str] = {}
        self._aliases: dict[str, str] = {}
        seen: set[str] = set()
        queue = [Path(p) for p in script_files]
        while queue:
            path = queue.pop(0)
            try:
                resolved = path.resolve()
                if str(resolved) in seen or not resolved.is_file():
                    continue
                seen.add(str(resolved))
                text = resolved.read_text(errors="replace")
            except OSError:
                continue
            for name, source in process_definitions(text).items():
                self._definitions.setdefault(name, source)
            for name, alias, module in includes(text):
                if alias != name:
                    self._aliases.setdefault(alias, name)
                if module.startswith((".", "/")):
                    target = (resolved.parent / module) if not module.startswith("/") else Path(module)
                    queue.append(target if target.suffix == ".nf" else target.with_name(target.name + ".nf"))
                    if target.is_dir():
                        queue.append(target / "main.nf")

    def source(self, process: str) -> str | None:
        """The definition of ``process`` (``WF:SUB:NAME`` or ``NAME``; aliases resolved)."""
        name = process.rsplit(":", 1)[-1]
        for _ in range(5):
            if name in self._definitions:
                return self._definitions[name]
            if name not in self._aliases:
                return None
            name = self._aliases[name]
        return None


@dataclass
class PipelineIdentity:
    key: str  # the pipeline Transform's key
    reference: str | None  # repository@revision, or the main script's path
    repository: str | None
    revision: str | None


def identify(
    script: str | None, launch_name: str | None, revision: str | None, branch: str | None,
    root: Path | None, repository: str | None = None, commit: str | None = None,
) -> PipelineIdentity:  # fmt: skip
    """Key and reference of the pipeline Transform.

    Remote pipelines (the launch line names a repository) are keyed by the repository
    (``github.com/nf-core/rnaseq``) with ``repository@commit`` as reference; local ones by the
    main script's path relative to the instance's root (else ``<folder>/<script>``).
    """
    launched = launch_name or ""
    remote = repository or (launched if _URL_PIPELINE.match(launched) else None)
    if remote:
        key = re.sub(r"^(?:https?://|ssh://|git@)", "", remote).replace(":", "/").removesuffix(".git").rstrip("/")
        rev = commit or revision
        reference = f"{remote}@{rev}" if rev else remote
        if branch and rev and branch != rev:
            reference += f" ({branch})"
        return PipelineIdentity(key, reference, remote, rev)
    path = Path(script) if script else None
    if path is None:
        return PipelineIdentity(launched or "nextflow-pipeline", None, None, revision)
    key = f"{path.parent.name}/{path.name}" if path.parent.name else path.name
    if root is not None:
        try:
            key = path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return PipelineIdentity(key, str(path), None, revision)


# -- command-line params ------------------------------------------------------------------------


def _typed(value: str) -> Any:
    # Nextflow's own conversion of CLI params: booleans and numbers become typed values.
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    if re.fullmatch(r"-?\d+\.\d+", value):
        return float(value)
    return value


def cli_params(args: Iterable[str]) -> dict[str, Any]:
    """``--name value`` / ``--name=value`` / ``--flag`` pipeline params from ``nextflow run`` args."""
    out: dict[str, Any] = {}
    items = list(args)
    i = 0
    while i < len(items):
        arg = items[i]
        if arg.startswith("--") and len(arg) > 2:
            body = arg[2:]
            if "=" in body:
                name, value = body.split("=", 1)
                out[name] = _typed(value)
            elif i + 1 < len(items) and not items[i + 1].startswith("-"):
                out[body] = _typed(items[i + 1])
                i += 1
            else:
                out[body] = True
        i += 1
    return out


def params_file(path: str) -> dict[str, Any]:
    """The params of a ``-params-file`` (JSON, or YAML when PyYAML is installed)."""
    text = Path(path).read_text()
    if path.endswith((".yml", ".yaml")):
        try:
            import yaml  # type: ignore[import-untyped]
        except ImportError:
            return {}
        loaded = yaml.safe_load(text)
    else:
        import json

        loaded = json.loads(text)
    return loaded if isinstance(loaded, dict) else {}
