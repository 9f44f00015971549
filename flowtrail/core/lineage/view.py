"""Lineage pictures: SVG (pure Python), Graphviz DOT and PNG (PNG needs ``dot``), Mermaid, JSON.

Artifacts are boxes labelled key, version and short hash; runs are ellipses labelled with their
transform's key and status; failed and aborted runs are red so they stand out. Collections are
folder shapes (Graphviz) or subroutine boxes (Mermaid) labelled key, version and member count.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

from flowtrail.core.errors import FlowtrailError
from flowtrail.core.lineage.graph import LineageGraph
from flowtrail.core.models import Artifact, Collection, Run

FORMATS = ("svg", "png", "dot", "mermaid", "json")  # HTML: flowtrail.web.standalone
# The file suffix each format is written under, and the suffixes each format is recognised by.
SUFFIXES = {"svg": (".svg",), "html": (".html", ".htm"), "png": (".png",), "dot": (".dot", ".gv"),
            "mermaid": (".mmd", ".mermaid"), "json": (".json",)}  # fmt: skip
RUN_COLORS = {"failed": "#d62728", "aborted": "#d62728", "started": "#ff7f0e", "cached": "#1f77b4"}


class SVG(str):
    """SVG text that Jupyter renders inline."""

    def _repr_svg_(self) -> str:
        return str(self)


def node_label(record: Any) -> str:
    if isinstance(record, Artifact):
        name = record.key or record.uid
        short = (record.hash or "")[:7]
        return f"{name}\nv{record.version} {short}".strip()
    if isinstance(record, Run):
        if record.name and record.name != record.transform.key:
            return f"{record.name}\n{record.status} {record.transform.key}"
        return f"{record.transform.key}\n{record.status}"
    if isinstance(record, Collection):
        return f"{record.key}\nv{record.version} {record.n_artifacts} artifacts"
    return str(record)


def to_json(graph: LineageGraph) -> dict[str, Any]:
    nodes = []
    for node_id in graph.node_ids:
        record = graph.node(node_id)
        if isinstance(record, Artifact):
            nodes.append({
                "id": node_id, "type": "artifact", "uid": record.uid, "key": record.key,
                "version": record.version, "hash": record.hash, "run": record.run.uid if record.run is not None else None,
            })  # fmt: skip
        elif isinstance(record, Collection):
            nodes.append({
                "id": node_id, "type": "collection", "uid": record.uid, "key": record.key,
                "version": record.version, "hash": record.hash, "n_artifacts": record.n_artifacts,
            })  # fmt: skip
        else:
            nodes.append({
                "id": node_id, "type": "run", "uid": record.uid, "transform": record.transform.key,
                "transform_type": record.transform.type, "status": record.status, "params": record.params,
            })  # fmt: skip
    kinds = ((Artifact, "artifact"), (Run, "run"), (Collection, "collection"))
    start_kind = next((kind for model, kind in kinds if isinstance(graph.start, model)), "transform")
    return {
        "start": {"type": start_kind, "uid": graph.start.uid},
        "direction": graph.direction,
        "depth": graph.depth,
        "nodes": nodes,
        "edges": [{"source": a, "target": b} for a, b in graph.edges],
    }


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def to_dot(graph: LineageGraph) -> str:
    lines = [
        "digraph lineage {",
        '  rankdir=LR; node [fontname="Helvetica", fontsize=10]; edge [color="#777777"];',
    ]
    for node_id in graph.node_ids:
        record = graph.node(node_id)
        label = _dot_escape(node_label(record))
        start = " penwidth=2.5" if record is graph.start else ""
        if isinstance(record, Artifact):
            style = f'shape=box style="rounded,filled" fillcolor="#eef5ff"{start}'
        elif isinstance(record, Collection):
            style = f'shape=folder style=filled fillcolor="#fff4e0"{start}'
        else:
            color = RUN_COLORS.get(record.status, "#2ca02c")
            style = f'shape=ellipse style=filled fillcolor="#ffffff" color="{color}" fontcolor="{color}"{start}'
        lines.append(f'  "{node_id}" [label="{label}" {style}];')
    for source, target in graph.edges:
        lines.append(f'  "{source}" -> "{target}";')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", "<br/>")


def to_mermaid(graph: LineageGraph) -> str:
    lines = ["flowchart LR"]
    failed = []
    for node_id in graph.node_ids:
        record = graph.node(node_id)
        name = node_id.replace(":", "_")
        label = _mermaid_text(node_label(record))
        if isinstance(record, Artifact):
            lines.append(f'  {name}["{label}"]')
        elif isinstance(record, Collection):
            lines.append(f'  {name}[["{label}"]]')
        else:
            lines.append(f'  {name}(["{label}"])')
            if record.status in ("failed", "aborted"):
                failed.append(name)
    for source, target in graph.edges:
        lines.append(f"  {source.replace(':', '_')} --> {target.replace(':', '_')}")
    if failed:
        lines.append("  classDef failed stroke:#d62728,color:#d62728,stroke-width:2px")
        lines.append(f"  class {','.join(failed)} failed")
    return "\n".join(lines) + "\n"


def graphviz_render(dot: str, fmt: str) -> bytes:
    executable = shutil.which("dot")
    if executable is None:
        raise FlowtrailError(
            f"Rendering {fmt} needs Graphviz's `dot`, which is not installed. Install it "
            "(Debian/Ubuntu: apt-get install graphviz; conda: conda install graphviz), or use "
            "--format svg or html, which need nothing."
        )
    done = subprocess.run([executable, f"-T{fmt}"], input=dot.encode(), capture_output=True, check=False)
    if done.returncode != 0:
        raise FlowtrailError(f"Graphviz failed to render the lineage: {done.stderr.decode(errors='replace')}")
    return done.stdout


def format_for(path: Any) -> str | None:
    """The format a file name's suffix asks for (``lineage.html`` -> ``html``), or None."""
    suffix = str(path).lower()
    return next((fmt for fmt, suffixes in SUFFIXES.items() if suffix.endswith(suffixes)), None)


def render(graph: LineageGraph, fmt: str = "svg") -> Any:
    """The picture in ``fmt``: SVG (str with Jupyter display), PNG (bytes), DOT, Mermaid or JSON text.

    SVG is laid out in pure Python (:mod:`flowtrail.core.lineage.layout`); only PNG needs Graphviz.
    """
    if fmt not in FORMATS:
        raise FlowtrailError(f"Unknown lineage format {fmt!r}: use one of {', '.join(FORMATS)}.")
    if fmt == "svg":
        from flowtrail.core.lineage.display import display_graph, layout_json
        from flowtrail.core.lineage.svg import to_svg

        return SVG(to_svg(layout_json(display_graph(graph))))
    if fmt == "json":
        return json.dumps(to_json(graph), indent=2, default=str) + "\n"
    if fmt == "mermaid":
        return to_mermaid(graph)
    dot = to_dot(graph)
    if fmt == "dot":
        return dot
    return graphviz_render(dot, "png")
