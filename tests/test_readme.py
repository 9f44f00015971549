"""The README's snippets run as written, in order, like a new user pasting them into a terminal.

Every fenced ``python`` and ``bash`` block of README.md runs in one sandbox folder, top to bottom:
bash blocks through ``bash -e`` (the folder a block ``cd``s into is where the next block starts),
python blocks as scripts of their own in a fresh interpreter. Lines installing flowtrail
(``pip install ...``) are left out: the package under test is already installed. Blocks are taken
from every section except the ones in ``NOT_RUN``, each with its reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

NOT_RUN = {
    "Two commands": "`make demo` and `make test` are the demo and this very test suite",
}


@dataclass
class Block:
    section: str
    language: str
    code: str
    line: int

    def __str__(self) -> str:
        return f"README.md:{self.line} ({self.section}, {self.language})"


def blocks() -> list[Block]:
    found: list[Block] = []
    section, language, start, lines = "", None, 0, []
    for number, line in enumerate(README.read_text().splitlines(), start=1):
        if language is None:
            if line.startswith("#"):
                section = line.lstrip("#").strip()
            elif line.startswith("```"):
                language, start, lines = line[3:].strip(), number, []
        elif line.startswith("```"):
            if language in ("python", "bash") and section not in NOT_RUN:
                found.append(Block(section, language, "\n".join(lines) + "\n", start))
            language = None
        else:
            lines.append(line)
    return found


def _bash_without_installs(code: str) -> str:
    return "\n".join(line for line in code.splitlines() if not re.match(r"\s*pip install\b", line)) + "\n"


def _environment(sandbox: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWTRAIL_", "OPENLINEAGE"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    # Prefect's temporary local server, offline and quiet (as in the demo).
    env.update(PREFECT_HOME=str(sandbox / ".prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
               PREFECT_SERVER_EPHEMERAL_ENABLED="true", PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
               PREFECT_LOGGING_LEVEL="WARNING", MPLBACKEND="Agg")
    return env


def _bring_what_the_block_assumes(block: Block, cwd: Path) -> None:
    """The README assumes the reader has their own Snakefile; the sandbox borrows the example's."""
    if re.search(r"^\s*snakemake\b", block.code, flags=re.M) and not (cwd / "Snakefile").exists():
        shutil.copytree(ROOT / "examples" / "snakemake", cwd, dirs_exist_ok=True)


def test_the_readme_has_runnable_snippets() -> None:
    sections = {block.section for block in blocks()}
    assert {"Using it", "Features, labels and curation", "Lineage", "Snakemake", "Prefect"} <= sections


@pytest.mark.slow
def test_every_readme_snippet_runs_in_order(tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    env = _environment(sandbox)
    cwd = sandbox
    where = tmp_path / "cwd"
    for index, block in enumerate(blocks()):
        _bring_what_the_block_assumes(block, cwd)
        if block.language == "bash":
            script = f"set -e\n{_bash_without_installs(block.code)}pwd > {where}\n"
            done = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                                  timeout=600)
        else:
            path = cwd / f"readme_snippet_{index}.py"
            path.write_text(block.code)
            done = subprocess.run([sys.executable, path.name], cwd=cwd, env=env, capture_output=True, text=True,
                                  timeout=600)
        assert done.returncode == 0, f"{block} failed:\n{block.code}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        assert "Traceback" not in done.stderr, f"{block} printed a traceback:\n{done.stderr}"
        if block.language == "bash":
            cwd = Path(where.read_text().strip())
    assert (cwd / ".flowtrail").is_dir(), "the snippets never created an instance"
