"""Rich trees for ``describe()`` and the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from flowtrail.core.db.context import current
from flowtrail.core.models.run import Run, run_output
from flowtrail.core.util.short_ids import short_id

if TYPE_CHECKING:
    from flowtrail.core.models.artifact import Artifact
    from flowtrail.core.models.run import Run
    from flowtrail.core.models.transform import Transform


def human_size(size: int | None) -> str:
    """``size`` bytes in binary units (KiB = 1024 bytes), as the units say."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def _field(tree: Tree, name: str, value: Any) -> None:
    if value not in (None, ""):
        tree.add(f"[dim]{name}[/dim] {escape(str(value))}")


def _status(status: str) -> str:
    color = {"completed": "green", "failed": "bold red", "aborted": "red", "cached": "cyan"}.get(status, "yellow")
    return f"[{color}]{status}[/{color}]"


def _artifact_line(item: Any) -> str:
    return f"{escape(item.key or item.uid)} [dim]v{item.version} {item.uid}[/dim]"


def _run_line(run: Any) -> str:
    """A run as uid (short id bold), its name and status; names like ``clean[sample=A]`` print as they are."""
    tail = short_id(run)
    uid = f"{run.uid[: -len(tail)]}[bold]{tail}[/bold]" if run.uid.endswith(tail) else run.uid
    name = f" {escape(run.name)}" if run.name else ""
    return f"{uid}{name} {_status(run.status)}"


def artifact_tree(artifact: Artifact) -> Tree:
    title = f"[bold]Artifact[/bold] {escape(artifact.key or '(no key)')} [dim]{artifact.uid}[/dim]"
    tree = Tree(title)
    general = tree.add("[bold]General[/bold]")
    _field(general, "version", f"{artifact.version}{' (latest)' if artifact.is_latest else ''}")
    _field(general, "description", artifact.description)
    _field(general, "kind", artifact.kind)
    _field(general, "otype", artifact.otype)
    _field(general, "suffix", artifact.suffix)
    _field(general, "size", human_size(artifact.size))
    _field(general, "hash", f"{artifact.hash} ({artifact.hash_type})")
    if artifact.n_files and artifact.n_files > 1 or artifact.kind == "folder":
        _field(general, "n_files", artifact.n_files)
    _field(general, "n_observations", artifact.n_observations)
    _field(general, "location", f"{artifact.location}{' (managed copy)' if artifact.is_managed else ' (in place)'}")
    _field(general, "created", f"{_when(artifact.created_at)} by {artifact.created_by or '-'}")
    if artifact.schema is not None:
        general.add(f"[dim]schema[/dim] {escape(artifact.schema.name or '(unnamed)')} [dim]{artifact.schema.uid}[/dim]")
    projects = [p.name for p in artifact.projects]
    _field(general, "projects", ", ".join(projects) if projects else None)
    from flowtrail.core.describe.annotations import add_annotation_branches

    add_annotation_branches(tree, artifact)
    run = artifact.run
    if run is not None:
        provenance = tree.add("[bold]Provenance[/bold]")
        _field(provenance, "transform", f"{run.transform.key} v{run.transform.version} ({run.transform.type})")
        provenance.add(f"[dim]run[/dim] {_run_line(run)}")
        _field(provenance, "project", run.project.name if run.project is not None else None)
        if run.params:
            params = provenance.add("[dim]params[/dim]")
            for key, value in run.params.items():
                params.add(escape(f"{key} = {value!r}"))
        inputs = run.inputs
        if inputs:
            branch = provenance.add(f"[dim]inputs of that run[/dim] ({len(inputs)})")
            for item in inputs[:20]:
                branch.add(_artifact_line(item))
            if len(inputs) > 20:
                branch.add(f"... {len(inputs) - 20} more")
    _add_other_makers(tree, artifact)
    readers = artifact.input_of_runs
    if readers:
        branch = tree.add(f"[bold]Read by[/bold] ({len(readers)} runs)")
        for reader in readers[:20]:
            branch.add(f"{escape(reader.transform.key)} {_run_line(reader)}")
    return tree


def _add_other_makers(tree: Tree, artifact: Artifact) -> None:
    """Runs besides the producer that output this artifact, with how (a rerun wrote it, a task forwarded it)."""
    from sqlalchemy import select

    sessions = current().sessions
    session = sessions.current()
    try:
        query = (
            select(Run, run_output.c.kind)
            .join(run_output, run_output.c.run_id == Run.id)
            .where(run_output.c.artifact_id == artifact.id)
            .order_by(Run.id)
        )
        rows = list(session.execute(query))
    finally:
        sessions.end_read()
    if rows:
        branch = tree.add(f"[bold]Also output by[/bold] ({len(rows)} runs)")
        for other, kind in rows[:20]:
            branch.add(f"{other.transform.key} [dim]{other.uid}[/dim] {_status(other.status)} ({kind})")


def run_tree(run: Run) -> Tree:
    tree = Tree(f"[bold]Run[/bold] {_run_line(run)}")
    transform = run.transform
    _field(tree, "transform", f"{transform.key} v{transform.version} ({transform.type})")
    _field(tree, "reference", run.reference)
    _field(tree, "started", _when(run.started_at))
    _field(tree, "finished", _when(run.finished_at))
    if run.parent is not None:
        tree.add(f"[dim]parent[/dim] {_run_line(run.parent)}")
    _field(tree, "project", run.project.name if run.project is not None else None)
    _field(tree, "error", run.error)
    if run.params:
        params = tree.add("[bold]params[/bold]")
        for key, value in run.params.items():
            params.add(escape(f"{key} = {value!r}"))
    if run.metrics:
        metrics = tree.add("[bold]metrics[/bold]")
        for key, value in run.metrics.items():
            metrics.add(escape(f"{key} = {value!r}"))
    kinds = run.output_kinds if run.outputs else {}
    for label, items in (("inputs", run.inputs), ("outputs", run.outputs)):
        if items:
            branch = tree.add(f"[bold]{label}[/bold] ({len(items)})")
            for item in items[:50]:
                # An output this run did not produce first says how it has it ("forwarded", "wrote", "reused").
                how = kinds.get(item.id, "produced") if label == "outputs" else "produced"
                mark = "" if how == "produced" else f" ({how})"
                branch.add(_artifact_line(item) + mark)
    if run.children:
        branch = tree.add(f"[bold]child runs[/bold] ({len(run.children)})")
        for child in run.children[:50]:
            branch.add(f"{escape(child.transform.key)} {_run_line(child)}")
    return tree


def transform_tree(transform: Transform) -> Tree:
    tree = Tree(f"[bold]Transform[/bold] {escape(transform.key)} v{transform.version} [dim]{transform.uid}[/dim]")
    _field(tree, "type", transform.type)
    _field(tree, "description", transform.description)
    _field(tree, "hash", transform.hash)
    _field(tree, "reference", transform.reference)
    _field(tree, "created", f"{_when(transform.created_at)} by {transform.created_by or '-'}")
    runs = transform.runs
    if runs:
        branch = tree.add(f"[bold]runs[/bold] ({len(runs)})")
        for run in runs[-10:]:
            branch.add(f"{_run_line(run)} {_when(run.started_at)}")
    return tree


def _print(tree: Tree) -> None:
    # Never wrapped by rich: a path or key stays one piece (rich would fold it mid-name), piped
    # output is not laid out at 80 columns, and a terminal shows a long line by its own wrapping.
    Console(width=100_000).print(tree)


def describe_artifact(artifact: Artifact) -> None:
    _print(artifact_tree(artifact))


def describe_run(run: Run) -> None:
    _print(run_tree(run))


def describe_transform(transform: Transform) -> None:
    _print(transform_tree(transform))


def describe_label(label: Any) -> None:
    """Print a label: type, ontology id, synonyms, parents, children and annotated artifacts."""
    from flowtrail.core.describe.annotations import label_tree

    _print(label_tree(label))


def describe_schema(schema: Any) -> None:
    """Print a schema: name, otype, itype, flags, features with dtypes and components."""
    from flowtrail.core.describe.annotations import schema_tree

    _print(schema_tree(schema))


def describe_collection(collection: Any) -> None:
    """Print a collection: general fields, the run it was saved in, and its members in order."""
    tree = Tree(f"[bold]Collection[/bold] {escape(collection.key)} [dim]{collection.uid}[/dim]")
    general = tree.add("[bold]General[/bold]")
    _field(general, "version", f"{collection.version}{' (latest)' if collection.is_latest else ''}")
    _field(general, "description", collection.description)
    _field(general, "n_artifacts", collection.n_artifacts)
    _field(general, "hash", collection.hash)
    _field(general, "created", f"{_when(collection.created_at)} by {collection.created_by or '-'}")
    run = collection.run
    if run is not None:
        provenance = tree.add("[bold]Provenance[/bold]")
        _field(provenance, "transform", f"{run.transform.key} v{run.transform.version} ({run.transform.type})")
        provenance.add(f"[dim]run[/dim] {_run_line(run)}")
    members = collection.artifacts[:50].to_list()
    branch = tree.add(f"[bold]Artifacts[/bold] ({collection.n_artifacts})")
    for position, item in enumerate(members):
        branch.add(f"{position}. {_artifact_line(item)}")
    if collection.n_artifacts > len(members):
        branch.add(f"... {collection.n_artifacts - len(members)} more")
    _print(tree)
