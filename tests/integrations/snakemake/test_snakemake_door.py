"""The Snakemake adapter writes only through the adapter door (``flowtrail.core.adapter``).

It may read the registry through the model classes, queries, lineage and errors, and nothing else
of the core: the rules for files, runs and failures live behind the door, once for every adapter.
"""

from __future__ import annotations

import ast
from pathlib import Path

import flowtrail.integrations.snakemake as package

ALLOWED = {"flowtrail.core.adapter", "flowtrail.core.models", "flowtrail.core.query.queryset", "flowtrail.core.lineage.graph",
           "flowtrail.core.errors"}  # fmt: skip


def core_imports(folder: Path) -> set[tuple[str, str]]:
    found = set()
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] if node.module != "flowtrail.core" else [f"flowtrail.core.{a.name}" for a in node.names]
            found |= {(path.name, name) for name in names if name.startswith("flowtrail.core")}
    return found


def test_the_snakemake_adapter_imports_only_the_door_and_the_read_side_of_the_core() -> None:
    imports = core_imports(Path(package.__file__).parent)
    outside = sorted((module, name) for module, name in imports if not any(name == a or name.startswith(a + ".") for a in ALLOWED))
    assert imports, "the adapter records through flowtrail.core.adapter"
    assert outside == []
