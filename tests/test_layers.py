"""The package's floors: imports point down, and the few that point up are doors listed by name.

A module's room is the first name under ``flowtrail.core`` (``flowtrail.core.runs.tracking`` lives in
``runs``) or the first name under ``flowtrail`` outside the core. An import may point into its own room
or any lower floor. An upward import must be listed in ``DOORS`` with the reason it exists; the list may
only shrink. Engine adapters write only through ``flowtrail.core.adapter``, never import each other, and
reach the rest of the core only for reading (``READS``).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "flowtrail"

# Lowest first; rooms on one line share a floor and may import each other.
FLOORS = [
    ["core.errors", "core", "_version"],
    ["core.util"],
    ["core.db"],
    ["core.query"],
    ["core.models"],
    ["core.runs"],
    ["core.artifacts"],
    ["core.annotations"],
    ["core.lineage", "core.openlineage", "core.describe", "core.curation", "core.migrations"],
    ["core.instance"],
    ["core.adapter"],
    ["web"],
    ["integrations"],
    ["cli", "testing", "__init__"],
]

# Upward imports on purpose. Each is deferred (inside a function) so importing the lower room stays cheap.
DOORS: dict[tuple[str, str], str] = {
    ("flowtrail.core.db.context", "flowtrail.core.instance"): "current() connects an instance on first use",
    ("flowtrail.core.query.queryset", "flowtrail.core.annotations.filters"): "feature columns in to_dataframe()",
    ("flowtrail.core.query.lookups", "flowtrail.core.annotations.filters"): "feature lookups in filters",
    ("flowtrail.core.runs.script", "flowtrail.core.openlineage.config"): "may track() take the sqlite3 fast path?",
    ("flowtrail.core.models.storage", "flowtrail.core.instance"): "Storage.register()",
    # The models' methods are one-line doors to the services that do the work (the façade users call).
    ("flowtrail.core.models.artifact", "flowtrail.core.annotations.linked"): "Artifact.labels, .projects",
    ("flowtrail.core.models.artifact", "flowtrail.core.annotations.values"): "Artifact.features",
    ("flowtrail.core.models.artifact", "flowtrail.core.artifacts.access"): "Artifact.cache(), .load(), .open()",
    ("flowtrail.core.models.artifact", "flowtrail.core.artifacts.save"): "Artifact.save()",
    ("flowtrail.core.models.artifact", "flowtrail.core.artifacts.deletion"): "Artifact.delete()",
    ("flowtrail.core.models.artifact", "flowtrail.core.describe.records"): "Artifact.describe()",
    ("flowtrail.core.models.collection", "flowtrail.core.annotations.collections"): "Collection.save(), .load(), ...",
    ("flowtrail.core.models.collection", "flowtrail.core.describe.records"): "Collection.describe()",
    ("flowtrail.core.models.feature", "flowtrail.core.annotations.values"): "Feature.save(), .delete()",
    ("flowtrail.core.models.label", "flowtrail.core.annotations.linked"): "Label.parents, .children",
    ("flowtrail.core.models.label", "flowtrail.core.annotations.vocabulary"): "Label.save(), .lookup(), ...",
    ("flowtrail.core.models.label", "flowtrail.core.describe.records"): "Label.describe()",
    ("flowtrail.core.models.project", "flowtrail.core.runs.projects"): "Project.save()",
    ("flowtrail.core.models.record", "flowtrail.core.lineage.graph"): "upstream(), downstream()",
    ("flowtrail.core.models.record", "flowtrail.core.lineage.view"): "view_lineage()",
    ("flowtrail.core.models.run", "flowtrail.core.describe.records"): "Run.describe()",
    ("flowtrail.core.models.schema", "flowtrail.core.annotations.schemas"): "Schema.save(), .components",
    ("flowtrail.core.models.schema", "flowtrail.core.describe.records"): "Schema.describe()",
    ("flowtrail.core.models.transform", "flowtrail.core.describe.records"): "Transform.describe()",
}

# What an engine adapter may import from the core besides the door: records and reads.
READS = ("core.errors", "core.models", "core.query", "core.lineage", "core.openlineage", "core.describe")


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return name.removesuffix(".__init__")


@cache
def imports() -> frozenset[tuple[str, str]]:
    """Every (importer, imported module) pair inside flowtrail; imports for type checkers only are left out.

    Those are annotations, not dependencies: they never run, so they cannot tie rooms together.
    """
    found: set[tuple[str, str]] = set()
    for path in PACKAGE.rglob("*.py"):
        module = module_name(path)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in runtime_nodes(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {(module, alias.name) for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    found.add((module, target if is_module(target) else base))
    return frozenset((a, b) for a, b in found if b == "flowtrail" or b.startswith("flowtrail."))


def runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:``."""
    nodes, todo = [], [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        nodes.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return nodes


def is_module(dotted: str) -> bool:
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def room(module: str) -> str:
    parts = module.split(".")[1:] or ["__init__"]
    return ".".join(parts[:2]) if parts[0] == "core" and len(parts) > 1 else parts[0]


def floor(module: str) -> int:
    for rank, rooms in enumerate(FLOORS):
        if room(module) in rooms:
            return rank
    raise AssertionError(f"{module} is in no room: add its room to FLOORS in tests/test_layers.py")


def upward_imports() -> set[tuple[str, str]]:
    return {(a, b) for a, b in imports() if floor(b) > floor(a)}


def test_every_module_has_a_room() -> None:
    for path in PACKAGE.rglob("*.py"):
        floor(module_name(path))


def test_the_core_is_rooms_not_a_flat_folder() -> None:
    flat = sorted(p.name for p in (PACKAGE / "core").glob("*.py") if p.stem not in {"__init__", "errors", "instance"})
    assert not flat, f"modules outside a room: {flat}; put each in the room of its concept"


def test_imports_point_down_except_through_named_doors() -> None:
    unlisted = upward_imports() - DOORS.keys()
    assert not unlisted, "upward imports not in DOORS:\n" + "\n".join(f"{a} -> {b}" for a, b in sorted(unlisted))


def test_doors_open_only_when_called() -> None:
    """An upward import at module level would tie the floors together at import time: doors are deferred."""
    for path in PACKAGE.rglob("*.py"):
        module = module_name(path)
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("flowtrail."):
                assert floor(node.module) <= floor(module), f"{module} imports {node.module} at module level"


def test_every_door_is_still_used() -> None:
    stale = DOORS.keys() - upward_imports()
    assert not stale, "DOORS lists imports that no longer exist; remove them:\n" + "\n".join(map(str, sorted(stale)))


def test_adapters_never_import_each_other() -> None:
    crossing = {
        (a, b)
        for a, b in imports()
        if a.startswith("flowtrail.integrations.")
        and b.startswith("flowtrail.integrations.")
        and a.split(".")[2] != b.split(".")[2]
    }
    assert not crossing, crossing


def test_adapters_write_only_through_the_door() -> None:
    reaching = {
        (a, b)
        for a, b in imports()
        if a.startswith("flowtrail.integrations.")
        and b.startswith("flowtrail.core.")
        and not room(b).startswith(("core.adapter", *READS))
    }
    assert not reaching, "adapters reaching past the door (write through flowtrail.core.adapter):\n" + "\n".join(
        f"{a} -> {b}" for a, b in sorted(reaching)
    )


# An engine adapter reads even less: records, query sets and lineage (type-checking imports included).
ENGINE_READS = ("flowtrail.core.models", "flowtrail.core.query.queryset", "flowtrail.core.lineage.graph",
                "flowtrail.core.errors")  # fmt: skip


@pytest.mark.parametrize("engine", ["snakemake", "nextflow", "prefect"])
def test_each_engine_adapter_imports_only_the_door_and_the_read_side_of_the_core(engine: str) -> None:
    allowed = ("flowtrail.core.adapter", *ENGINE_READS)
    imports = set()
    for path in (PACKAGE / "integrations" / engine).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] if node.module != "flowtrail.core" else [f"flowtrail.core.{a.name}" for a in node.names]
            imports |= {(path.name, name) for name in names if name.startswith("flowtrail.core")}
    outside = sorted((module, name) for module, name in imports if not any(name == a or name.startswith(a + ".") for a in allowed))
    assert imports, f"the {engine} adapter records through flowtrail.core.adapter"
    assert outside == []


def test_the_core_never_imports_an_engine_or_the_command_line() -> None:
    engines = ("snakemake", "prefect", "nextflowpy", "flowtrail.integrations", "flowtrail.cli", "flowtrail.web")
    for path in (PACKAGE / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert not name.startswith(engines), f"{module_name(path)} imports {name}"
