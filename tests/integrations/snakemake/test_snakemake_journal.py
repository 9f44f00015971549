"""A Snakemake workflow runs through a registry outage; after `flowtrail sync` the registry equals
the one an undisturbed run leaves (runs, statuses, inputs and outputs).

Outages are real: a read-only tmpfs under the SQLite registry (from the start, or made read-only
by a job mid-run), a PostgreSQL behind a proxy that has stopped (refused), and a PostgreSQL of
the test's own frozen with SIGSTOP.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from fault_helpers import OwnPostgres, make_read_only, tmpfs  # noqa: E402
from snakemake_helpers import snakemake_command
from tcp_proxy import TcpProxy  # noqa: E402

import flowtrail as ft
from flowtrail.core.db.context import disconnect

FLOWTRAIL = str(Path(sys.executable).with_name("flowtrail"))
SNAKEFILE = """
SAMPLES = ["a", "b"]

rule all:
    input: "results/summary.txt"

rule count:
    input: "data/{sample}.txt"
    output: "counts/{sample}.txt"
    shell: "wc -l < {input} > {output}"

rule summary:
    input: expand("counts/{sample}.txt", sample=SAMPLES)
    output: "results/summary.txt"
    shell: "if [ -f outage.sh ]; then sh outage.sh; fi; cat {input} > {output}"
"""


def _workflow(root: Path) -> Path:
    folder = root / "wf"
    (folder / "data").mkdir(parents=True)
    (folder / "Snakefile").write_text(textwrap.dedent(SNAKEFILE))
    (folder / "data" / "a.txt").write_text("x\ny\n")
    (folder / "data" / "b.txt").write_text("z\n")
    return folder


def _env(**extra: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("FLOWTRAIL_", "OPENLINEAGE"))} | extra


def _snakemake(folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [*snakemake_command(), "-c1", "--nocolor", "--logger", "flowtrail"]
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    return done


def lineage(root: Path, env: dict[str, str] | None = None) -> set[tuple]:
    """Runs (transform, name, status, parent), and each run's input and output keys."""
    disconnect()
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        ft.connect(root)
        facts = set()
        for run in ft.Run.filter():
            parent = run.parent.transform.key if run.parent else None
            facts.add(("run", run.transform.key, run.name, run.status, parent))
            facts.add(("edges", run.transform.key, run.name, tuple(sorted(a.key for a in run.inputs)),
                       tuple(sorted(a.key for a in run.outputs))))  # fmt: skip
        return facts
    finally:
        disconnect()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _sync(root: Path, env: dict[str, str]) -> str:
    done = subprocess.run([FLOWTRAIL, "sync"], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def undisturbed(tmp_path):
    root = tmp_path / "undisturbed"
    ft.init(root)
    disconnect()
    _snakemake(_workflow(root), _env())
    facts = lineage(root)
    assert ("run", "wf/Snakefile", None, "completed", None) in facts
    assert len([f for f in facts if f[0] == "run"]) == 5  # the workflow run and four jobs (with `all`)
    return facts


def _journal(root: Path) -> list[Path]:
    folder = root / ".flowtrail" / "journal"
    return sorted(folder.iterdir()) if folder.is_dir() else []


@pytest.mark.parametrize("when", ["from the start", "mid-run"])
def test_a_read_only_sqlite_registry(tmp_path, undisturbed, when):
    with tmpfs(tmp_path / "disk") as disk:
        root = tmp_path / "project"
        ft.init(root, db=f"sqlite:///{disk / 'registry.db'}")
        disconnect()
        folder = _workflow(root)
        if when == "from the start":
            make_read_only(disk)
        else:  # the summary job makes the registry read-only, after the counts were recorded (or not)
            (folder / "outage.sh").write_text(f"mount -o remount,ro {disk}\n")
        done = _snakemake(folder, _env())
        assert "journaled" in done.stderr, done.stderr
        assert len(_journal(root)) == 1
        subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        (folder / "outage.sh").unlink(missing_ok=True)
        assert "1 journal file(s) recorded" in _sync(root, _env())
        assert lineage(root) == undisturbed
        assert _journal(root) == [] and "0 journal file(s)" in _sync(root, _env())
        assert lineage(root) == undisturbed


@pytest.mark.postgres
def test_a_postgres_registry_that_refuses_connections(tmp_path, postgres_url, undisturbed):
    proxy = TcpProxy(int(postgres_url.rsplit(":", 1)[1].split("/", 1)[0]))
    root = tmp_path / "project"
    ft.init(root, db=proxy.url(postgres_url))
    disconnect()
    proxy.close()
    done = _snakemake(_workflow(root), _env())
    assert "journaled" in done.stderr and len(_journal(root)) == 1, done.stderr
    env = _env(FLOWTRAIL_DB_URL=postgres_url)
    assert "1 journal file(s) recorded" in _sync(root, env)
    assert lineage(root, env) == undisturbed


@pytest.mark.postgres
def test_a_hung_postgres_costs_snakemake_seconds_and_loses_nothing(tmp_path, undisturbed):
    server = OwnPostgres()
    try:
        root = tmp_path / "project"
        ft.init(root, db=server.url)
        disconnect()
        folder = _workflow(root)
        with server.frozen(all_processes=True):
            started = time.monotonic()
            done = _snakemake(folder, _env())  # bounded by the subprocess timeout: no hang
            print(f"snakemake took {time.monotonic() - started:.1f} s with the registry frozen")
        assert "journaled" in done.stderr and len(_journal(root)) == 1, done.stderr
        assert "1 journal file(s) recorded" in _sync(root, _env())
        assert lineage(root) == undisturbed
    finally:
        server.stop()


def test_a_tracked_script_inside_a_job_is_journaled_with_the_workflow(tmp_path):
    """The seam: a job runs a script that calls ft.track(); both are journaled and both are synced."""
    step = "import flowtrail as ft\nft.track(params={'step': 1})\nopen('out.txt', 'w').write('ok')\n"
    snakefile = f'rule step:\n    output: "out.txt"\n    shell: "{sys.executable} step.py"\n'

    def project(root: Path) -> Path:
        folder = root / "wf"
        folder.mkdir(parents=True)
        (folder / "Snakefile").write_text(snakefile)
        (folder / "step.py").write_text(step)
        return folder

    ft.init(tmp_path / "undisturbed")
    disconnect()
    _snakemake(project(tmp_path / "undisturbed"), _env())
    expected = lineage(tmp_path / "undisturbed")
    # The script nests under its job run (OPENLINEAGE_PARENT_ID from the Snakemake plugin).
    assert ("run", "wf/step.py", None, "completed", "wf/Snakefile/step") in expected
    with tmpfs(tmp_path / "disk") as disk:
        root = tmp_path / "project"
        ft.init(root, db=f"sqlite:///{disk / 'registry.db'}")
        disconnect()
        folder = project(root)
        make_read_only(disk)
        _snakemake(folder, _env())
        assert sorted(p.name.split("-")[0] for p in _journal(root)) == ["script", "snakemake"]
        subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        assert "2 journal file(s) recorded" in _sync(root, _env())
        assert lineage(root) == expected
