"""The pure-Python layered layout: columns follow lineage, boxes never overlap, cycles terminate."""

from __future__ import annotations

import random

from flowtrail.core.lineage.layout import layered_layout


def overlaps(layout) -> list[tuple[str, str]]:
    columns: dict[float, list] = {}
    for name, box in layout.boxes.items():
        columns.setdefault(box.x, []).append((box.y - box.height / 2, box.y + box.height / 2, name))
    found = []
    for boxes in columns.values():
        boxes.sort()
        for (_, bottom, a), (top, _, b) in zip(boxes, boxes[1:]):
            if top < bottom:
                found.append((a, b))
    return found


def test_every_edge_points_right_and_inputs_sit_next_to_their_reader():
    sizes = {n: (100.0, 38.0) for n in ("raw", "ref", "align", "bam", "call", "vcf", "late-input")}
    edges = [("raw", "align"), ("ref", "align"), ("align", "bam"), ("bam", "call"), ("ref", "call"),
             ("call", "vcf"), ("late-input", "call")]  # fmt: skip
    layout = layered_layout(sizes, edges)
    box = layout.boxes
    assert all(box[a].x < box[b].x for a, b in edges)
    assert box["late-input"].layer == box["call"].layer - 1  # pulled next to its reader, not in column 0
    assert not overlaps(layout)
    assert all(0 <= b.x - b.width / 2 and b.x + b.width / 2 <= layout.width for b in box.values())
    for a, b, points in layout.routes:  # routes start at the source's right side and end at the target's left
        assert points[0][0] == box[a].x + box[a].width / 2 and points[-1][0] == box[b].x - box[b].width / 2
    ref_to_call = next(points for a, b, points in layout.routes if (a, b) == ("ref", "call"))
    assert len(ref_to_call) == 2 + (box["call"].layer - box["ref"].layer - 1)  # waypoints between columns


def test_a_cycle_lays_out_and_keeps_its_edges():
    sizes = {n: (80.0, 30.0) for n in ("state", "update", "report")}
    edges = [("state", "update"), ("update", "state"), ("state", "report")]
    layout = layered_layout(sizes, edges)
    assert {(a, b) for a, b, _ in layout.routes} == set(edges)
    assert not overlaps(layout)


def test_a_thousand_node_workflow_has_no_overlaps_and_few_crossings():
    rng = random.Random(5)
    sizes, edges = {}, []
    for sample in range(200):  # raw -> trim -> trimmed -> count -> counts, all counts -> summary
        chain = [f"raw{sample}", f"trim{sample}", f"trimmed{sample}", f"count{sample}", f"counts{sample}"]
        for name in chain:
            sizes[name] = (rng.uniform(80, 200), 38.0)
        edges += list(zip(chain, chain[1:]))
        edges.append((chain[-1], "summary"))
    sizes["summary"] = (90.0, 38.0)
    layout = layered_layout(sizes, edges)
    assert len(layout.boxes) == 1001 and not overlaps(layout)
    box = layout.boxes
    # Each sample's chain stays on one row: the order of samples is the same in every column.
    rows = [sorted(range(200), key=lambda s, c=column: box[f"{c}{s}"].y) for column in ("raw", "trimmed", "counts")]
    assert rows[0] == rows[1] == rows[2]
