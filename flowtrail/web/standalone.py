"""``flowtrail lineage KEY -o lineage.html``: the interactive graph as one self-contained file.

The page inlines the packaged stylesheet and viewer script and embeds the laid-out graph as JSON,
so it opens from disk, by e-mail or from a notebook's output folder with no server and no network:
pan, zoom, details of each node and the members of each group. Expanding nodes needs the server.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

from flowtrail.core.lineage.display import MAX_NODES, display_graph, layout_json
from flowtrail.core.lineage.graph import LineageGraph


def _asset(name: str) -> str:
    return (files("flowtrail.web") / "static" / name).read_text(encoding="utf-8")


def _script_json(data: Any) -> str:
    # Safe inside <script>: no "</script>" or "<!--" can close or confuse the element.
    return json.dumps(data, default=str).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def standalone_html(graph: LineageGraph, picture: dict[str, Any] | None = None, *, max_nodes: int = MAX_NODES) -> str:
    """One HTML document showing ``graph`` (laid out unless ``picture`` is given), with everything inlined."""
    from flowtrail.web.pages import render

    if picture is None:
        picture = layout_json(display_graph(graph, max_nodes=max_nodes))
    start = graph.start
    name = getattr(start, "key", None) or getattr(start, "name", None) or start.uid
    page = render("standalone.html", {"title": f"Lineage of {name}", "name": name, "style": _asset("style.css"),
                                      "script": _asset("lineage.js"), "picture": _script_json(picture)})  # fmt: skip
    return page


__all__ = ["standalone_html"]
