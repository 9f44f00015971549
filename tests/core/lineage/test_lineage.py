import json
import shutil

import pytest

import flowtrail as ft
from flowtrail.core.lineage.graph import graph
from flowtrail.core.lineage.view import render
from flowtrail.core.runs.tracking import finish_run, start_run


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_instance(request):
    """The same registry behaviour on the embedded SQLite and on a PostgreSQL server."""
    return request.getfixturevalue("instance" if request.param == "sqlite" else "pg_instance")


@pytest.fixture
def pipeline(any_instance, tmp_path):
    """raw -> align -> bam -> call -> vcf -> report -> html, plus a side input and a failed run.

    raw.fq ─┐
            ├─ align ── sample.bam ── call ── calls.vcf ── report ── report.html
    ref.fa ─┘                          └─ (reads ref.fa too)
    sample.bam ── qc (failed)
    """
    def output(run, key, text):
        path = tmp_path / key.replace("/", "_")
        path.write_text(text)
        return ft.Artifact(path, key=key, run=run).save()

    def data(key, text):
        path = tmp_path / key.replace("/", "_")
        path.write_text(text)
        return ft.Artifact(path, key=key).save()

    raw, ref = data("raw.fq", "@r1\nACGT\n"), data("ref.fa", ">chr1\nACGT\n")
    align = start_run("align", type="rule", params={"threads": 4})
    align.add_inputs([raw, ref])
    bam = output(align, "sample.bam", "BAM")
    finish_run(align)
    call = start_run("call", type="rule")
    call.add_inputs([bam, ref])
    vcf = output(call, "calls.vcf", "VCF")
    finish_run(call)
    report = start_run("report", type="rule")
    report.add_inputs([vcf])
    html = output(report, "report.html", "<html/>")
    finish_run(report)
    qc = start_run("qc", type="rule")
    qc.add_inputs([bam])
    finish_run(qc, "failed", error="exit 1")
    return {"raw": raw, "ref": ref, "bam": bam, "vcf": vcf, "html": html,
            "align": align, "call": call, "report": report, "qc": qc}  # fmt: skip


def keys(artifacts):
    return sorted(a.key for a in artifacts)


def test_upstream_of_the_last_artifact_reaches_the_raw_inputs(pipeline):
    up = pipeline["html"].upstream()
    assert keys(up.artifacts) == ["calls.vcf", "raw.fq", "ref.fa", "sample.bam"]
    assert sorted(r.transform.key for r in up.runs) == ["align", "call", "report"]
    assert ("run:%d" % pipeline["report"].id, "artifact:%d" % pipeline["html"].id) in up.edges
    assert ("artifact:%d" % pipeline["ref"].id, "run:%d" % pipeline["call"].id) in up.edges


def test_depth_counts_runs(pipeline):
    assert keys(pipeline["html"].upstream(depth=1).artifacts) == ["calls.vcf"]
    assert keys(pipeline["html"].upstream(depth=2).artifacts) == ["calls.vcf", "ref.fa", "sample.bam"]
    assert [r.transform.key for r in pipeline["html"].upstream(depth=1).runs] == ["report"]
    assert pipeline["html"].upstream(depth=0).artifacts == []


def test_downstream_answers_what_was_produced_from_an_input(pipeline):
    down = pipeline["raw"].downstream()
    assert keys(down.artifacts) == ["calls.vcf", "report.html", "sample.bam"]
    assert sorted(r.transform.key for r in down.runs) == ["align", "call", "qc", "report"]


def test_which_runs_read_this_file(pipeline):
    readers = pipeline["bam"].input_of_runs
    assert sorted(r.transform.key for r in readers) == ["call", "qc"]
    assert ft.Run.filter(inputs=pipeline["bam"], status="failed").one().transform.key == "qc"


def test_which_transforms_and_params_produced_an_artifact(pipeline):
    producers = pipeline["vcf"].upstream().runs
    assert {r.transform.key: r.params for r in producers} == {"align": {"threads": 4}, "call": None}


def test_run_and_transform_lineage(pipeline):
    assert keys(pipeline["call"].upstream().artifacts) == ["raw.fq", "ref.fa", "sample.bam"]
    assert keys(pipeline["call"].downstream().artifacts) == ["calls.vcf", "report.html"]
    transform = ft.Transform.get(key="align")
    assert keys(transform.downstream().artifacts) == ["calls.vcf", "report.html", "sample.bam"]
    both = graph(pipeline["vcf"], "both")
    assert keys(both.artifacts) == ["raw.fq", "ref.fa", "report.html", "sample.bam"]


def test_cycles_terminate(instance, tmp_path):
    # A run that reads a key and rewrites it, twice over: the graph has a cycle through versions
    # only if a run reads its own output; build exactly that.
    path = tmp_path / "state.json"
    path.write_text("{}")
    state = ft.Artifact(path, key="state.json").save()
    run = start_run("update-state")
    run.add_inputs([state])
    path.write_text('{"n": 1}')
    newer = ft.Artifact(path, key="state.json", run=run).save()
    finish_run(run)
    second = start_run("update-state")
    second.add_inputs([newer])
    finish_run(second)
    # Make a true cycle: the first run also reads the artifact produced by itself.
    run.add_inputs([newer])
    from flowtrail.core.models.run import run_input

    with instance.engine.begin() as conn:
        conn.execute(run_input.insert().values(run_id=run.id, artifact_id=newer.id))
    up = newer.upstream()
    assert keys(up.artifacts) == ["state.json"]
    assert len(newer.downstream().runs) == 2


def test_json_and_mermaid_need_nothing(pipeline):
    found = pipeline["html"].upstream()
    data = json.loads(render(found, "json"))
    assert data["start"]["uid"] == pipeline["html"].uid
    assert {n["type"] for n in data["nodes"]} == {"artifact", "run"}
    assert len(data["edges"]) == len(found.edges)
    mermaid = render(pipeline["bam"].downstream(), "mermaid")
    assert mermaid.startswith("flowchart LR")
    assert f"run_{pipeline['qc'].id}" in mermaid and "class " in mermaid  # the failed run is styled


def test_view_lineage_is_an_svg_without_graphviz(pipeline, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # no `dot` anywhere
    svg = pipeline["html"].view_lineage()
    assert svg._repr_svg_().lstrip().startswith("<svg")
    assert "report.html" in svg and "calls.vcf" in svg and "raw.fq" in svg
    failed = pipeline["bam"].view_lineage("down")
    assert 'stroke="#d62728"' in failed  # the failed qc run is red


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is installed by scripts/install-test-services")
def test_png_through_graphviz(pipeline):
    png = render(pipeline["bam"].downstream(), "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    dot = render(pipeline["bam"].downstream(), "dot")
    assert "#d62728" in dot  # failed runs stand out


def test_lineage_needs_a_saved_record(instance, tmp_path):
    path = tmp_path / "x"
    path.write_text("x")
    with pytest.raises(ft.FlowtrailError, match="saved"):
        graph(ft.Artifact(path))
