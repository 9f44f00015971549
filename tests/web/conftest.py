"""Fixtures for the web interface: a registry made by a real Snakemake run, served by a real
``flowtrail serve`` process, looked at through Debian's headless Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import Server, browser_missing, chromium, flowtrail_command

SNAKEFILE = """
    # Six samples: trim, count (with params), a QC that fails for sample f, and a summary.
    SAMPLES = ["a", "b", "c", "d", "e", "f"]

    rule all:
        input: "results/summary.tsv", expand("qc/{sample}.ok", sample=SAMPLES)

    rule trim:
        input: "raw/{sample}.fq"
        output: "trimmed/{sample}.fq"
        shell: "grep -v '^#' {input} > {output}"

    rule count:
        input: "trimmed/{sample}.fq"
        output: "counts/{sample}.tsv"
        params: min_count=5, strand="reverse"
        shell: "wc -l < {input} > {output}"

    rule qc:
        input: "trimmed/{sample}.fq"
        output: "qc/{sample}.ok"
        shell: "if [ {wildcards.sample} = f ]; then echo 'adapter content 41% > 10%' >&2; exit 3; fi; touch {output}"

    rule summary:
        input: expand("counts/{sample}.tsv", sample=SAMPLES)
        output: "results/summary.tsv"
        shell: "cat {input} > {output}"
"""


def _missing(message: str) -> None:
    """Skip on a developer's machine; fail on CI (CI=true), where the browser must be installed."""
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _snakemake() -> list[str]:
    beside = Path(sys.executable).with_name("snakemake")
    return [str(beside)] if beside.is_file() else [sys.executable, "-m", "snakemake"]


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWTRAIL_", "OPENLINEAGE"))}
    return env | {"OPENLINEAGE_DISABLED": "true"}


@pytest.fixture(scope="module")
def workflow_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose registry holds one Snakemake run of SNAKEFILE (qc[sample=f] failed)."""
    project = tmp_path_factory.mktemp("web") / "project"
    subprocess.run([*flowtrail_command(), "init", str(project)], check=True, env=clean_env(), capture_output=True)
    folder = project / "workflow"
    (folder / "raw").mkdir(parents=True)
    (folder / "Snakefile").write_text(textwrap.dedent(SNAKEFILE).lstrip())
    for i, sample in enumerate("abcdef"):
        (folder / "raw" / f"{sample}.fq").write_text("# header\n" + "@read\nACGT\n" * (i + 3))
    done = subprocess.run([*_snakemake(), "-c2", "--nocolor", "--keep-going", "--logger", "flowtrail"],
                          cwd=folder, env=clean_env(), capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 1, done.stderr[-3000:]  # qc[sample=f] fails, everything else runs
    return project


@pytest.fixture(scope="module")
def server(workflow_project: Path) -> Iterator[Server]:
    """``flowtrail serve`` on a free port of 127.0.0.1 for the workflow's registry."""
    running = Server(workflow_project)
    yield running
    running.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    """Headless Chromium with a fresh profile; screenshots go to the test's tmp folder."""
    reason = browser_missing()
    if reason:
        _missing(reason)
    driver = chromium(tmp_path / "chromium-profile")
    yield driver
    driver.quit()


@pytest.fixture
def wide_project(instance, tmp_path: Path) -> Path:
    """24 samples x (trim -> count), then a summary, made with the Python API; count[sample=s07] failed."""
    import flowtrail as ft
    from flowtrail.core.runs.tracking import finish_run, start_run

    def save(key: str, run=None):
        path = tmp_path / key.replace("/", "_")
        path.write_text(key)
        return ft.Artifact(path, key=key, run=run).save()

    counts = []
    for sample in (f"s{i:02d}" for i in range(24)):
        raw = save(f"raw/{sample}.fq")
        trim = start_run("wf/trim", type="rule", params={"sample": sample})
        trim.name = f"trim[sample={sample}]"
        trim.add_inputs([raw])
        trimmed = save(f"trimmed/{sample}.fq", trim)
        finish_run(trim)
        count = start_run("wf/count", type="rule", params={"sample": sample, "min_count": 5})
        count.name = f"count[sample={sample}]"
        count.add_inputs([trimmed])
        counts.append(save(f"counts/{sample}.tsv", count))
        finish_run(count, "failed" if sample == "s07" else "completed", error="exit 2" if sample == "s07" else None)
    summary = start_run("wf/summary", type="rule")
    summary.add_inputs(counts)
    save("results/summary.tsv", summary)
    finish_run(summary)
    return instance.config.root
