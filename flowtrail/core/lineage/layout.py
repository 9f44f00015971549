"""A layered (Sugiyama-style) layout for lineage graphs, in pure Python.

Lineage flows left to right: every node sits in a column (its *layer*) after everything it was
made from. The steps are the classic ones, each kept simple and linear-ish so a 1,000-node closure
lays out in well under a second:

1. cycles (a run rewriting what it read) are broken by reversing DFS back edges;
2. layers by longest path from the sources, then sources are pulled right next to their first
   consumer (a raw input sits just before the run that reads it, not in column 0);
3. edges spanning several layers get invisible waypoints, so they are routed between nodes;
4. the order inside each layer comes from barycenter sweeps, keeping the order with the fewest
   crossings (counted exactly by merge-sort inversions);
5. vertical positions: each node moves towards the mean of its neighbours, then overlaps are
   pushed apart in order.

The result holds boxes (centre x/y, width, height) and, per edge, the points a curve goes through.
Both the SVG writer and the browser's drawing code read this same layout.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

RANK_GAP = 64  # horizontal space between columns
NODE_GAP = 14  # vertical space between boxes of one column
MARGIN = 16
SWEEPS = 6


@dataclass
class Box:
    """A placed node: centre ``x``/``y``, ``width``, ``height``, its column and row."""

    x: float = 0.0
    y: float = 0.0
    width: float = 0.0
    height: float = 0.0
    layer: int = 0
    order: int = 0


@dataclass
class Layout:
    """Where every node and edge goes; ``width``/``height`` bound the drawing."""

    boxes: dict[str, Box] = field(default_factory=dict)
    routes: list[tuple[str, str, list[tuple[float, float]]]] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0


def _break_cycles(nodes: list[str], edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The edges with every DFS back edge reversed, so the graph is acyclic."""
    succ: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        succ[a].append(b)
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    back: set[tuple[str, str]] = set()
    for root in nodes:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(succ[root]))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                back.add((node, child))
            elif child not in state:
                state[child] = 1
                stack.append((child, iter(succ[child])))
    return [(b, a) if (a, b) in back else (a, b) for a, b in edges if a != b]


def _layers(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    succ: dict[str, list[str]] = defaultdict(list)
    pred: dict[str, list[str]] = defaultdict(list)
    indegree = dict.fromkeys(nodes, 0)
    for a, b in edges:
        succ[a].append(b)
        pred[b].append(a)
        indegree[b] += 1
    layer = dict.fromkeys(nodes, 0)
    ready = [n for n in nodes if indegree[n] == 0]
    topo: list[str] = []
    while ready:
        node = ready.pop()
        topo.append(node)
        for child in succ[node]:
            layer[child] = max(layer[child], layer[node] + 1)
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    # Sources move right, next to the earliest node that consumes them.
    for node in reversed(topo):
        if not pred[node] and succ[node]:
            layer[node] = min(layer[c] for c in succ[node]) - 1
    return layer


def _count_crossings(upper: list[str], lower_pos: dict[str, int], succ: dict[str, list[str]]) -> int:
    sequence = [lower_pos[b] for a in upper for b in sorted(succ[a], key=lower_pos.__getitem__)]
    return _inversions(sequence)


def _inversions(values: list[int]) -> int:
    if len(values) < 2:
        return 0
    middle = len(values) // 2
    left, right = values[:middle], values[middle:]
    count = _inversions(left) + _inversions(right)
    left.sort()
    right.sort()
    i = 0
    for value in right:  # elements of `left` greater than `value`
        while i < len(left) and left[i] <= value:
            i += 1
        count += len(left) - i
    return count


def _order(rows: list[list[str]], succ: dict[str, list[str]], pred: dict[str, list[str]]) -> list[list[str]]:
    def total(candidate: list[list[str]]) -> int:
        crossings = 0
        for upper, lower in zip(candidate, candidate[1:], strict=False):
            crossings += _count_crossings(upper, {n: i for i, n in enumerate(lower)}, succ)
        return crossings

    best = [list(r) for r in rows]
    best_score = total(best)
    current = [list(r) for r in rows]
    for sweep in range(SWEEPS):
        downward = sweep % 2 == 0
        indices = range(1, len(current)) if downward else range(len(current) - 2, -1, -1)
        for i in indices:
            fixed = current[i - 1] if downward else current[i + 1]
            position = {n: p for p, n in enumerate(fixed)}
            neighbours = pred if downward else succ

            def barycenter(node: str, own: int, position: dict[str, int] = position, neighbours=neighbours) -> float:
                linked = [position[m] for m in neighbours[node] if m in position]
                return sum(linked) / len(linked) if linked else float(own)

            current[i] = [n for _, n in sorted(((barycenter(n, p), p), n) for p, n in enumerate(current[i]))]
        score = total(current)
        if score < best_score:
            best, best_score = [list(r) for r in current], score
        if best_score == 0:
            break
    return best


def _place_rows(rows: list[list[str]], boxes: dict[str, Box], adjacent: dict[str, list[str]]) -> None:
    """Vertical centres: stack each column, then relax towards neighbours without overlapping."""
    for row in rows:
        y = 0.0
        for node in row:
            boxes[node].y = y + boxes[node].height / 2
            y += boxes[node].height + NODE_GAP
    for _ in range(4):
        for row in rows:
            wanted = []
            for node in row:
                linked = [boxes[m].y for m in adjacent[node]]
                wanted.append(sum(linked) / len(linked) if linked else boxes[node].y)
            _resolve(row, wanted, boxes)


def _resolve(row: list[str], wanted: list[float], boxes: dict[str, Box]) -> None:
    """Put each node of ``row`` as close to ``wanted`` as the order and the gaps allow."""
    placed: list[float] = []
    for node, target in zip(row, wanted, strict=True):
        if placed:
            previous = row[len(placed) - 1]
            lowest = placed[-1] + (boxes[previous].height + boxes[node].height) / 2 + NODE_GAP
            target = max(target, lowest)
        placed.append(target)
    # Pushing down only drifts everything down: shift the column back by its mean displacement.
    shift = sum(p - w for p, w in zip(placed, wanted, strict=True)) / len(row)
    for node, y in zip(row, placed, strict=True):
        boxes[node].y = y - shift


def layered_layout(sizes: dict[str, tuple[float, float]], edges: list[tuple[str, str]]) -> Layout:
    """Lay out nodes (id -> (width, height)) and directed edges from left to right."""
    nodes = list(sizes)
    known = set(nodes)
    edges = [(a, b) for a, b in dict.fromkeys(edges) if a in known and b in known and a != b]
    acyclic = _break_cycles(nodes, edges)
    layer = _layers(nodes, acyclic)
    boxes = {n: Box(width=sizes[n][0], height=sizes[n][1], layer=layer[n]) for n in nodes}

    # Waypoints for edges spanning several columns.
    succ: dict[str, list[str]] = defaultdict(list)
    pred: dict[str, list[str]] = defaultdict(list)
    chains: dict[tuple[str, str], list[str]] = {}
    for a, b in acyclic:
        chain = [a]
        for step in range(layer[a] + 1, layer[b]):
            dummy = f"\0{a}\0{b}\0{step}"
            boxes[dummy] = Box(width=0.0, height=4.0, layer=step)
            chain.append(dummy)
        chain.append(b)
        for u, v in zip(chain, chain[1:], strict=False):
            succ[u].append(v)
            pred[v].append(u)
        chains[(a, b)] = chain

    depth = max((b.layer for b in boxes.values()), default=-1) + 1
    rows: list[list[str]] = [[] for _ in range(depth)]
    seen: set[str] = set()
    for start in nodes:  # first order: depth-first from each node, so related nodes start close
        stack = [start]
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            rows[boxes[node].layer].append(node)
            stack.extend(reversed(succ[node]))
    rows = _order(rows, succ, pred)
    adjacent = {n: pred[n] + succ[n] for n in boxes}
    _place_rows(rows, boxes, adjacent)

    x = float(MARGIN)
    for row in rows:
        width = max((boxes[n].width for n in row), default=0.0)
        for position, node in enumerate(row):
            boxes[node].x = x + width / 2
            boxes[node].order = position
        x += width + RANK_GAP
    top = min((b.y - b.height / 2 for b in boxes.values()), default=0.0)
    for box in boxes.values():
        box.y += MARGIN - top

    layout = Layout(boxes={n: boxes[n] for n in nodes})
    for a, b in edges:
        reversed_edge = (a, b) not in chains
        chain = chains[(b, a)] if reversed_edge else chains[(a, b)]
        if reversed_edge:
            chain = list(reversed(chain))
        points = [(boxes[n].x, boxes[n].y) for n in chain]
        first, last = boxes[chain[0]], boxes[chain[-1]]
        sign = -1 if reversed_edge else 1
        points[0] = (first.x + sign * first.width / 2, first.y)
        points[-1] = (last.x - sign * last.width / 2, last.y)
        layout.routes.append((a, b, points))
    layout.width = x - RANK_GAP + MARGIN if rows else 2 * MARGIN
    layout.height = max((b.y + b.height / 2 for b in boxes.values()), default=0.0) + MARGIN
    return layout


__all__ = ["Box", "Layout", "layered_layout"]
