"""``flowtrail lineage``: pictures and JSON of what came from what."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("uid_or_key")
@click.option("--up", "direction", flag_value="up", default=True, help="What it was made from (default).")
@click.option("--down", "direction", flag_value="down", help="What was made from it.")
@click.option("--both", "direction", flag_value="both", help="Both directions.")
@click.option("--depth", type=click.IntRange(min=0), help="How many runs to follow (default: all).")
@click.option(
    "--format", "fmt", type=click.Choice(["svg", "png", "dot", "mermaid", "json"]), help="Default: from -o, else mermaid."
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE instead of stdout.")
def lineage(uid_or_key: str, direction: str, depth: int | None, fmt: str | None, output: Path | None) -> None:
    """Show the lineage of an artifact, run or transform."""
    from ..core.lineage import graph
    from ..core.lineage_view import render
    from ..core.lookup import find_record

    if fmt is None:
        suffix = output.suffix.lstrip(".").lower() if output else ""
        fmt = {"mmd": "mermaid", "gv": "dot"}.get(suffix, suffix) if suffix else "mermaid"
        if fmt not in ("svg", "png", "dot", "mermaid", "json"):
            raise click.BadParameter(f"cannot tell the format from {output}; pass --format.", param_hint="-o")
    found = graph(find_record(uid_or_key), direction, depth)  # type: ignore[arg-type]
    picture = render(found, fmt)
    if output is not None:
        if isinstance(picture, bytes):
            output.write_bytes(picture)
        else:
            output.write_text(picture)
        click.echo(f"Wrote {fmt} lineage ({len(found.artifact_ids)} artifacts, {len(found.run_ids)} runs) to {output}")
    elif isinstance(picture, bytes):
        raise click.BadParameter("PNG is binary: write it to a file with -o lineage.png.", param_hint="--format")
    else:
        click.echo(picture, nl=False)
