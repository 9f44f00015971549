"""``flowtrail lineage``: pictures, a tree at the terminal, and JSON of what came from what."""

from __future__ import annotations

import sys
from pathlib import Path

import click

CHOICES = ["svg", "html", "png", "dot", "mermaid", "json", "tree"]


def _pick_format(fmt: str | None, output: Path | None) -> str:
    """--format, else the -o suffix, else a tree at a terminal and Mermaid when piped."""
    from flowtrail.core.lineage.view import SUFFIXES, format_for

    if output is None:
        if fmt is None:
            return "tree" if sys.stdout.isatty() else "mermaid"
        return fmt
    from_suffix = format_for(output)
    if fmt is None:
        if from_suffix is None:
            known = ", ".join(s for suffixes in SUFFIXES.values() for s in suffixes)
            raise click.BadParameter(f"cannot tell the format from {output.name}: name it {known}, or pass --format.",
                                     param_hint="-o")  # fmt: skip
        return from_suffix
    if fmt == "tree":
        raise click.BadParameter("the tree is for the terminal; write svg, html, json, ... to a file.", param_hint="--format")
    if from_suffix is not None and from_suffix != fmt:  # never Mermaid text in a file named .svg
        raise click.BadParameter(
            f"{output.name} is named like {from_suffix}, not {fmt}: name it {output.stem}{SUFFIXES[fmt][0]}.",
            param_hint="-o",
        )
    return fmt


@click.command()
@click.argument("uid_or_key")
@click.option("--up", "direction", flag_value="up", default=True, help="What it was made from (default).")
@click.option("--down", "direction", flag_value="down", help="What was made from it.")
@click.option("--both", "direction", flag_value="both", help="Both directions.")
@click.option("--depth", type=click.IntRange(min=0), help="How many runs to follow (default: all).")
@click.option(
    "--format", "fmt", type=click.Choice(CHOICES),
    help="Default: from the -o suffix (.svg .html .png .dot .mmd .json); without -o a tree at a terminal, "
    "Mermaid when piped.",
)  # fmt: skip
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE instead of stdout.")
def lineage(uid_or_key: str, direction: str, depth: int | None, fmt: str | None, output: Path | None) -> None:
    """Show the lineage of an artifact, run or transform.

    SVG and HTML (an interactive page in one self-contained file) need nothing installed; PNG needs Graphviz.
    """
    from flowtrail.cli.lookup import find_record
    from flowtrail.core.lineage.graph import graph

    fmt = _pick_format(fmt, output)
    found = graph(find_record(uid_or_key), direction, depth)  # type: ignore[arg-type]
    if fmt == "tree":
        from flowtrail.cli.lineage_tree import lineage_tree
        from flowtrail.cli.output import console

        console.print(lineage_tree(found))
        return
    if fmt == "html":
        from flowtrail.web.standalone import standalone_html

        picture: str | bytes = standalone_html(found)
    else:
        from flowtrail.core.lineage.view import render

        picture = render(found, fmt)
    if output is not None:
        if isinstance(picture, bytes):
            output.write_bytes(picture)
        else:
            output.write_text(picture, encoding="utf-8")
        click.echo(f"Wrote {fmt} lineage ({len(found.artifact_ids)} artifacts, {len(found.run_ids)} runs) to {output}")
    elif isinstance(picture, bytes):
        raise click.BadParameter("PNG is binary: write it to a file with -o lineage.png.", param_hint="--format")
    else:
        click.echo(picture, nl=False)
