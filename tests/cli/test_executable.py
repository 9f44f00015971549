"""Every command, run as the real ``flowtrail`` executable in a fresh process, as a user runs it.

The in-process CliRunner tests share one interpreter whose imports hide what a fresh process lacks
(a command importing one model without the others failed only there). Here each call is a new
process with a clean environment; ``test_every_command_runs_as_an_executable_somewhere`` fails when
a command is added without such a test.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import click
import pytest

from flowtrail.cli.main import cli

TESTS = Path(__file__).resolve().parents[1]


def executable() -> str:
    """The ``flowtrail`` script installed beside the interpreter running the tests."""
    beside = Path(sys.executable).parent / "flowtrail"
    return str(beside) if beside.exists() else (shutil.which("flowtrail") or "flowtrail")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWTRAIL_", "OPENLINEAGE"))}
    env.update(extra)
    return env


def flowtrail(*args: str, cwd: Path, check: bool = True, env: dict[str, str] | None = None,
              timeout: float = 120) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([executable(), *args], cwd=cwd, env=env or clean_env(), capture_output=True, text=True,
                          timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"flowtrail {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def rows(output: str) -> list[dict]:
    """Rows of a ``--json`` listing: one JSON array, or one JSON object per line."""
    text = output.strip()
    if text.startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    flowtrail("init", ".", cwd=folder)
    assert (folder / ".flowtrail" / "registry.db").is_file()
    return folder


def test_init_info_and_migrate(project: Path) -> None:
    info = json.loads(flowtrail("info", "--json", cwd=project).stdout)
    assert Path(info["root"]).resolve() == project.resolve()
    assert "up to date" in flowtrail("migrate", cwd=project).stdout.lower()
    again = flowtrail("init", ".", cwd=project, check=False)
    assert again.returncode != 0 and "already" in (again.stdout + again.stderr).lower()


def test_save_ls_describe_load_and_lineage(project: Path) -> None:
    (project / "counts.csv").write_text("gene,count\nA,1\nB,2\n")
    flowtrail("save", "counts.csv", "--key", "raw/counts.csv", "--description", "raw counts", cwd=project)
    listed = rows(flowtrail("ls", "artifacts", "--json", cwd=project).stdout)
    assert [row["key"] for row in listed] == ["raw/counts.csv"]
    assert "raw counts" in flowtrail("describe", "raw/counts.csv", cwd=project).stdout
    local = flowtrail("load", "raw/counts.csv", cwd=project).stdout.strip().splitlines()[-1]
    assert Path(local).read_text() == "gene,count\nA,1\nB,2\n"
    graph = json.loads(flowtrail("lineage", "raw/counts.csv", "--format", "json", cwd=project).stdout)
    assert any(node.get("key") == "raw/counts.csv" for node in graph["nodes"])
    for registry in ("runs", "transforms", "collections", "projects", "schemas"):
        flowtrail("ls", registry, cwd=project)


def test_features_labels_and_annotate(project: Path, tmp_path: Path) -> None:
    (project / "sample.csv").write_text("x\n1\n")
    flowtrail("save", "sample.csv", "--key", "data/sample.csv", cwd=project)
    # The first command of a fresh process used to meet unmapped models ("Label is not mapped").
    flowtrail("features", "add", "weight", "--dtype", "float", cwd=project)
    vocabulary = tmp_path / "tissues.csv"
    vocabulary.write_text("name,ontology_id,synonyms,parents\nliver,UBERON:0002107,hepar,\nlung,UBERON:0002048,,\n")
    flowtrail("labels", "import", str(vocabulary), "--type", "Tissue", cwd=project)
    labels = rows(flowtrail("labels", "list", "--type", "Tissue", "--json", cwd=project).stdout)
    assert sorted(label["name"] for label in labels) == ["liver", "lung"]
    flowtrail("features", "add", "tissue", "--dtype", "cat[Label[Tissue]]", cwd=project)
    features = rows(flowtrail("features", "list", "--json", cwd=project).stdout)
    assert {f["name"] for f in features} == {"weight", "tissue"}
    flowtrail("annotate", "data/sample.csv", "weight=2.5", "tissue=hepar", cwd=project)
    found = rows(flowtrail("ls", "artifacts", "--where", "tissue=liver", "--json", cwd=project).stdout)
    assert [row["key"] for row in found] == ["data/sample.csv"]


def test_storage_add_list_and_clean(project: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "x.txt").write_text("x")
    flowtrail("storage", "add", str(data), cwd=project)
    roots = [row["root"] for row in rows(flowtrail("storage", "list", "--json", cwd=project).stdout)]
    assert any(root.rstrip("/").endswith(str(data)) for root in roots)
    flowtrail("save", str(data / "x.txt"), cwd=project)
    assert (data / "x.txt").exists()  # registered in place, never moved
    flowtrail("storage", "clean", "--older-than", "0", "--yes", cwd=project)
    # Nothing that is referenced, in place or the registry itself is ever cleaned away.
    assert (data / "x.txt").read_text() == "x"
    assert (project / ".flowtrail" / "registry.db").is_file()
    assert len(rows(flowtrail("ls", "artifacts", "--json", cwd=project).stdout)) == 1


def test_export_then_ingest_into_another_instance(project: Path, tmp_path: Path) -> None:
    (project / "a.txt").write_text("a")
    script = project / "step.py"
    script.write_text("import flowtrail as ft\nft.track(params={'n': 1})\nft.Artifact('a.txt', key='a.txt').save()\n"
                      "ft.finish()\n")
    subprocess.run([sys.executable, str(script)], cwd=project, env=clean_env(), check=True, timeout=120)
    events = tmp_path / "events.ndjson"
    flowtrail("export", "openlineage", "-o", str(events), cwd=project)
    assert events.read_text().count("\n") >= 2
    other = tmp_path / "other"
    other.mkdir()
    flowtrail("init", ".", cwd=other)
    flowtrail("ingest", str(events), cwd=other)
    runs = rows(flowtrail("ls", "runs", "--json", cwd=other).stdout)
    assert [run["status"] for run in runs] == ["completed"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_answers_writes_and_reads(project: Path) -> None:
    port = _free_port()
    server = subprocess.Popen([executable(), "serve", "--port", str(port)], cwd=project, env=clean_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/v1/namespaces", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"flowtrail serve did not come up:\n{server.stdout.read()}") from None
                time.sleep(0.2)
        event = {
            "eventType": "COMPLETE", "eventTime": "2026-01-01T00:00:00Z", "producer": "https://example.org/test",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": str(uuid.uuid4())}, "job": {"namespace": "etl", "name": "daily"},
            "inputs": [], "outputs": [{"namespace": "s3://bucket", "name": "daily/out.parquet"}],
        }
        request = urllib.request.Request(f"{base}/api/v1/lineage", data=json.dumps(event).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        assert urllib.request.urlopen(request, timeout=10).status == 201
        jobs = json.load(urllib.request.urlopen(f"{base}/api/v1/namespaces/etl/jobs", timeout=10))
        assert [job["name"] for job in jobs["jobs"]] == ["daily"]
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_nextflow_run_and_import(project: Path) -> None:
    try:  # the nextflow extra (its import name, `nextflow`, needs the executable): not in the core-only environment
        importlib.metadata.version("nextflowpy")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("the nextflow extra is not installed")
    if shutil.which("nextflow") is None:
        if os.environ.get("CI"):
            pytest.fail("nextflow is not on PATH (make test puts it there)")
        pytest.skip("nextflow is not on PATH")
    (project / "main.nf").write_text(
        "process HELLO {\n  output:\n  path 'hello.txt'\n  script:\n  \"\"\"\n  echo hello > hello.txt\n  \"\"\"\n}\n"
        "workflow {\n  HELLO()\n}\n"
    )
    flowtrail("nextflow", "run", "main.nf", "--quiet", cwd=project, timeout=600)
    runs = rows(flowtrail("ls", "runs", "--json", cwd=project).stdout)
    assert sorted(run["status"] for run in runs) == ["completed", "completed"]
    # The session is registered already: import says so instead of registering it twice.
    imported = flowtrail("nextflow", "import", ".", cwd=project, check=False, timeout=300)
    assert "already" in (imported.stdout + imported.stderr).lower()
    assert len(rows(flowtrail("ls", "runs", "--json", cwd=project).stdout)) == 2


# Commands whose executable run lives in another test file (usually with the engine they need).
ELSEWHERE: dict[str, str] = {
    "serve": "cli/test_executable.py",  # started with Popen above
    "run": "cli/test_run_command.py",
    "sync": "core/runs/test_journal.py",
    "runs reap": "core/runs/test_reaping.py",
}


def _leaf_commands(command: click.Command, path: tuple[str, ...] = ()) -> list[str]:
    if isinstance(command, click.Group):
        return [leaf for name, sub in command.commands.items() for leaf in _leaf_commands(sub, (*path, name))]
    return [" ".join(path)]


def test_every_command_runs_as_an_executable_somewhere() -> None:
    here = Path(__file__).read_text()
    missing = []
    for command in _leaf_commands(cli):
        words = ", ".join(f'"{word}"' for word in command.split())
        if f"flowtrail({words}" in here:
            continue
        where = ELSEWHERE.get(command)
        if where and command.split()[-1] in (TESTS / where).read_text():
            continue
        missing.append(command)
    assert not missing, f"commands never run as the real executable: {missing}"
