"""A lineage picture as SVG, drawn from the pure-Python layout: no Graphviz needed.

Artifacts are rounded boxes (key; version and short hash), runs are pills (run name; status and
transform), groups are stacked boxes; failed and aborted runs are red, the start node has a thick
border. Every node carries a ``<title>`` with its full label, so long keys shortened in the box
are readable as a tooltip. The browser view draws the same layout with the same colours.
"""

from __future__ import annotations

from html import escape
from typing import Any

STATUS_COLORS = {"failed": "#d62728", "aborted": "#d62728", "started": "#e67e00", "cached": "#1f77b4",
                 "completed": "#2a9d3f", "mixed": "#666666"}  # fmt: skip
FILL = {"artifact": "#eef5ff", "collection": "#fff4e0", "run": "#ffffff", "group": "#f4f4f4"}
STROKE = {"artifact": "#4a78b5", "collection": "#c88a1e", "group": "#777777"}
FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"


def node_color(node: dict[str, Any]) -> str:
    """Outline colour: by status for runs and run groups, by kind otherwise."""
    if node["kind"] == "run" or (node["kind"] == "group" and node.get("status")):
        return STATUS_COLORS.get(node.get("status") or "", "#2a9d3f")
    return STROKE.get(node["kind"], "#555555")


def edge_path(points: list[list[float]]) -> str:
    """A smooth left-to-right curve through the route's points (horizontal tangents)."""
    (x0, y0), rest = points[0], points[1:]
    parts = [f"M{x0:.1f},{y0:.1f}"]
    for x1, y1 in rest:
        middle = (x0 + x1) / 2
        parts.append(f"C{middle:.1f},{y0:.1f} {middle:.1f},{y1:.1f} {x1:.1f},{y1:.1f}")
        x0, y0 = x1, y1
    return " ".join(parts)


def _node_svg(node: dict[str, Any]) -> str:
    x, y, w, h = node["x"] - node["w"] / 2, node["y"] - node["h"] / 2, node["w"], node["h"]
    color = node_color(node)
    radius = h / 2 if node["kind"] == "run" else 6
    width = 3 if node.get("start") else (2 if node.get("status") in ("failed", "aborted") else 1.2)
    text_color = "#b01c1c" if node.get("status") in ("failed", "aborted") else "#1b1b1b"
    shapes = []
    if node["kind"] == "group":  # a stack of cards
        shapes.append(f'<rect x="{x + 5:.1f}" y="{y - 5:.1f}" width="{w:.1f}" height="{h:.1f}" rx="6" '
                      f'fill="#fafafa" stroke="{color}" stroke-width="1"/>')  # fmt: skip
    shapes.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="{radius:.1f}" '
                  f'fill="{FILL[node["kind"]]}" stroke="{color}" stroke-width="{width}"/>')  # fmt: skip
    title = escape(node["title"] + ("\n" + node["subtitle"] if node["subtitle"] else ""))
    return (
        f'<g class="node {node["kind"]}" data-id="{escape(node["id"])}"><title>{title}</title>{"".join(shapes)}'
        f'<text x="{node["x"]:.1f}" y="{node["y"] - 3:.1f}" text-anchor="middle" font-size="12" '
        f'font-weight="600" fill="{text_color}">{escape(node["label"])}</text>'
        f'<text x="{node["x"]:.1f}" y="{node["y"] + 12:.1f}" text-anchor="middle" font-size="10.5" '
        f'fill="#555">{escape(node["sublabel"])}</text></g>'
    )


def to_svg(picture: dict[str, Any]) -> str:
    """The SVG document for a :func:`~flowtrail.core.lineage.display.layout_json` picture."""
    width, height = picture["width"], picture["height"] + (22 if picture.get("hidden") else 0)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.1f} {height:.1f}" font-family="{escape(FONT, quote=True)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#8a8a8a"/></marker></defs>',
        '<rect width="100%" height="100%" fill="#ffffff"/>',
    ]
    for edge in picture["edges"]:
        out.append(f'<path d="{edge_path(edge["points"])}" fill="none" stroke="#8a8a8a" stroke-width="1.3" '
                   'marker-end="url(#arrow)"/>')  # fmt: skip
    out.extend(_node_svg(node) for node in picture["nodes"])
    if picture.get("hidden"):
        out.append(f'<text x="16" y="{height - 8:.0f}" font-size="12" fill="#555">{picture["hidden"]} more nodes '
                   "not shown (open the lineage in `flowtrail serve` or the HTML view to see them)</text>")  # fmt: skip
    out.append("</svg>")
    return "\n".join(out) + "\n"


__all__ = ["edge_path", "node_color", "to_svg"]
