"""Output links: every run that wrote or forwarded an artifact, the first producer kept."""

import pytest
from rich.console import Console

import flowtrail as ft
from flowtrail.core.describe.records import artifact_tree, run_tree
from flowtrail.core.lineage.graph import graph
from flowtrail.core.models.run import record_outputs
from flowtrail.core.runs.tracking import finish_run, start_run


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_instance(request):
    return request.getfixturevalue("instance" if request.param == "sqlite" else "pg_instance")


def _text(tree):
    console = Console(width=200, record=True)
    console.print(tree)
    return console.export_text()


def _make(tmp_path, run, inputs, key, text):
    run.add_inputs(inputs)
    path = tmp_path / key
    path.write_text(text)
    return ft.Artifact(path, key=key, run=run).save()


def test_a_rerun_that_makes_identical_bytes_is_linked_as_a_maker(any_instance, tmp_path):
    (tmp_path / "raw.txt").write_text("raw")
    raw = ft.Artifact(tmp_path / "raw.txt", key="raw.txt").save()
    first = start_run("sort", type="rule")
    table = _make(tmp_path, first, [raw], "sorted.txt", "a\nb\n")
    finish_run(first)
    rerun = start_run("sort", type="rule")
    again = _make(tmp_path, rerun, [raw], "sorted.txt", "a\nb\n")
    finish_run(rerun)

    assert again.id == table.id and again.run_id == first.id  # one record, first producer kept
    assert [a.key for a in rerun.outputs] == ["sorted.txt"]
    assert [a.key for a in first.outputs] == ["sorted.txt"]
    assert rerun.output_kinds == {table.id: "wrote"}
    up = graph(table, "up")
    assert {r.id for r in up.runs} == {first.id, rerun.id}
    assert (f"run:{rerun.id}", f"artifact:{table.id}") in up.edges
    down = graph(raw, "down")
    assert (f"run:{rerun.id}", f"artifact:{table.id}") in down.edges
    assert f"run:{rerun.id}" in graph(rerun, "down").edges[0]


def test_a_forwarding_run_is_an_output_edge_and_describe_says_so(any_instance, tmp_path):
    (tmp_path / "reads.fq").write_text("@r\nACGT\n")
    reads = ft.Artifact(tmp_path / "reads.fq", key="reads.fq").save()
    make = start_run("trim", type="process")
    trimmed = _make(tmp_path, make, [reads], "trimmed.fq", "@r\nACG\n")
    finish_run(make)
    passthrough = start_run("passthrough", type="process")
    passthrough.add_inputs([trimmed])
    record_outputs(passthrough, [trimmed], kind="forwarded")
    record_outputs(passthrough, [trimmed], kind="forwarded")  # idempotent
    finish_run(passthrough)
    count = start_run("count", type="process")
    report = _make(tmp_path, count, [trimmed], "count.txt", "1")
    finish_run(count)

    assert [a.key for a in passthrough.outputs] == ["trimmed.fq"]
    assert {r.id for r in graph(report, "up").runs} == {make.id, passthrough.id, count.id}
    assert "trimmed.fq" in _text(run_tree(passthrough)) and "(forwarded)" in _text(run_tree(passthrough))
    described = _text(artifact_tree(trimmed))
    assert "Also output by (1 runs)" in described and "passthrough" in described and "(forwarded)" in described
    assert "(forwarded)" not in _text(run_tree(make))


def test_an_unknown_link_kind_is_refused(instance, tmp_path):
    (tmp_path / "x.txt").write_text("x")
    artifact = ft.Artifact(tmp_path / "x.txt", key="x.txt").save()
    run = start_run("r", type="rule")
    with pytest.raises(ft.TrackingError, match="forwarded"):
        record_outputs(run, [artifact], kind="copied")
    assert run.outputs == []


def test_bulk_save_links_every_duplicate_to_the_saving_run(instance, tmp_path):
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"f{i}.txt")
        paths[-1].write_text(str(i))
    first = start_run("a", type="rule")
    ft.save([ft.Artifact(p, key=p.name) for p in paths], run=first)
    second = start_run("a", type="rule")
    for i, path in enumerate(paths):  # the rerun writes the same bytes again
        path.write_text(str(i))
    saved = ft.save([ft.Artifact(p, key=p.name) for p in paths], run=second)
    assert {a.run_id for a in saved} == {first.id}
    assert [a.key for a in second.outputs] == ["f0.txt", "f1.txt", "f2.txt"]
    assert second.output_kinds == {a.id: "wrote" for a in saved}
