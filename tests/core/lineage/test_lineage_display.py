"""What a lineage picture shows: run names and status, groups for wide workflows, a visible cap."""

from __future__ import annotations

import pytest

import flowtrail as ft
from flowtrail.core.lineage.display import display_graph, layout_json
from flowtrail.core.lineage.graph import graph
from flowtrail.core.lineage.svg import to_svg
from flowtrail.core.runs.tracking import finish_run, start_run

SAMPLES = [f"s{i:02d}" for i in range(24)]


@pytest.fixture
def wide(instance, tmp_path):
    """24 samples x (trim -> count), then one summary; count[sample=s07] failed."""
    def save(key, run=None):
        path = tmp_path / key.replace("/", "_")
        path.write_text(key)
        return ft.Artifact(path, key=key, run=run).save()

    counts = []
    for sample in SAMPLES:
        raw = save(f"raw/{sample}.fq")
        trim = start_run("wf/trim", type="rule")
        trim.name = f"trim[sample={sample}]"
        trim.add_inputs([raw])
        trimmed = save(f"trimmed/{sample}.fq", trim)
        finish_run(trim)
        count = start_run("wf/count", type="rule")
        count.name = f"count[sample={sample}]"
        count.add_inputs([trimmed])
        counts.append(save(f"counts/{sample}.tsv", count))
        finish_run(count, "failed" if sample == "s07" else "completed")
    summary = start_run("wf/summary", type="rule")
    summary.add_inputs(counts)
    result = save("results/summary.tsv", summary)
    finish_run(summary)
    return result


def test_runs_of_one_transform_and_their_files_become_groups(wide):
    shown = display_graph(graph(wide, "up"))
    titles = {n.title: n for n in shown.nodes}
    assert set(titles) == {"raw/s*.fq × 24", "wf/trim × 24", "trimmed/s*.fq × 24", "wf/count × 24",
                           "counts/s*.tsv × 24", "wf/summary", "results/summary.tsv"}  # fmt: skip
    count = titles["wf/count × 24"]
    assert count.kind == "group" and count.failed == 1 and count.status == "failed" and count.subtitle == "24 runs · 1 failed"
    assert "count[sample=s07]" in count.member_titles
    assert titles["results/summary.tsv"].start
    assert len(shown.edges) == 6 and shown.hidden == 0

    opened = display_graph(graph(wide, "up"), open_groups={count.id})
    names = {n.title for n in opened.nodes}
    assert {"count[sample=s00]", "count[sample=s23]"} <= names and "wf/trim × 24" in names
    failed = next(n for n in opened.nodes if n.title == "count[sample=s07]")
    assert failed.status == "failed" and failed.subtitle == "failed · wf/count"


def test_a_cap_keeps_the_nodes_nearest_the_start_and_says_how_many_are_hidden(wide):
    shown = display_graph(graph(wide, "up"), group_above=1000, max_nodes=40)
    assert len(shown.nodes) == 40 and shown.total == 24 * 5 + 2 and shown.hidden == shown.total - 40
    titles = {n.title for n in shown.nodes}
    assert {"results/summary.tsv", "wf/summary", "counts/s00.tsv", "counts/s23.tsv"} <= titles  # nearest first
    assert sum(n.more for n in shown.nodes) > 0  # boundary nodes say they have hidden neighbours
    picture = layout_json(shown)
    assert picture["hidden"] == shown.hidden
    assert f"{shown.hidden} more nodes not shown" in to_svg(picture)
