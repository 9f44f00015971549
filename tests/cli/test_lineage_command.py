"""`flowtrail lineage` as a fresh process: each format under its own suffix, pictures without
Graphviz, a tree at a terminal and a machine format when piped."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

import flowtrail as ft
from flowtrail.core.runs.tracking import finish_run, start_run


def flowtrail_executable() -> str:
    return str(Path(sys.executable).with_name("flowtrail"))


@pytest.fixture
def project(instance, tmp_path):
    """raw.fq -> align[sample=s1] -> s1.bam -> call -> calls.vcf, and a failed qc reading s1.bam."""
    root = instance.config.root
    (root / "raw.fq").write_text("@r\nACGT\n")
    raw = ft.Artifact(root / "raw.fq", key="raw.fq").save()
    align = start_run("align", type="rule", params={"threads": 4})
    align.name = "align[sample=s1]"
    align.add_inputs([raw])
    (root / "s1.bam").write_text("BAM")
    bam = ft.Artifact(root / "s1.bam", key="plates/plate[red]/s1.bam", run=align).save()
    finish_run(align)
    call = start_run("call", type="rule")
    call.add_inputs([bam])
    (root / "calls.vcf").write_text("VCF")
    ft.Artifact(root / "calls.vcf", key="calls.vcf", run=call).save()
    finish_run(call)
    qc = start_run("qc", type="rule")
    qc.add_inputs([bam])
    finish_run(qc, "failed", error="exit 1")
    return root


def lineage(project: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWTRAIL_", "OPENLINEAGE"))}
    if path is not None:
        env["PATH"] = path
    return subprocess.run([flowtrail_executable(), "lineage", *args], cwd=project, env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip


def test_each_format_goes_under_its_own_suffix_without_graphviz(project):
    only_the_venv = str(Path(sys.executable).parent)  # no `dot` on this PATH
    for name in ("up.svg", "up.html", "up.json", "up.mmd", "up.dot"):
        done = lineage(project, "calls.vcf", "-o", name, path=only_the_venv)
        assert done.returncode == 0, done.stderr
        assert f"Wrote {name.split('.')[1].replace('mmd', 'mermaid')} lineage" in done.stdout
    svg = (project / "up.svg").read_text()
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "plates/plate[red]/s1.bam" in svg and "align[sample=s1]" in svg and "calls.vcf" in svg
    html = (project / "up.html").read_text()
    assert html.startswith("<!doctype html>") and "FlowtrailLineage.start" in html and "align[sample=s1]" in html
    assert json.loads((project / "up.json").read_text())["start"]["type"] == "artifact"
    assert (project / "up.mmd").read_text().startswith("flowchart LR")
    assert (project / "up.dot").read_text().startswith("digraph lineage")


def test_a_format_that_does_not_match_the_suffix_is_refused(project):
    done = lineage(project, "calls.vcf", "--format", "mermaid", "-o", "lineage.svg")
    assert done.returncode == 2
    assert "lineage.svg is named like svg, not mermaid: name it lineage.mmd" in done.stderr
    assert not (project / "lineage.svg").exists()
    unknown = lineage(project, "calls.vcf", "-o", "lineage.txt")
    assert unknown.returncode == 2 and "cannot tell the format from lineage.txt" in unknown.stderr


def test_a_terminal_gets_a_tree_and_a_pipe_gets_mermaid(project):
    piped = lineage(project, "raw.fq", "--down")
    assert piped.returncode == 0 and piped.stdout.startswith("flowchart LR")

    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWTRAIL_", "OPENLINEAGE"))}
    env |= {"COLUMNS": "100", "TERM": "xterm"}
    process = subprocess.Popen([flowtrail_executable(), "lineage", "raw.fq", "--down"], cwd=project, env=env,
                               stdout=follower, stderr=follower, stdin=subprocess.DEVNULL)  # fmt: skip
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert process.wait(60) == 0
    os.close(leader)
    import re

    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", b"".join(chunks).decode())
    assert "flowchart" not in text
    assert "raw.fq" in text and "-> run align[sample=s1] completed" in text
    assert "-> plates/plate[red]/s1.bam" in text  # brackets are not eaten as markup
    assert "-> run qc failed" in text and "-> calls.vcf" in text
