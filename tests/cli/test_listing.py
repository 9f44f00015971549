"""``flowtrail ls`` and ``describe`` as a user meets them: the real executable at a terminal and piped."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from cli_process import at_terminal, piped
from sqlalchemy import insert

import flowtrail as ft
from flowtrail.core.db.context import current
from flowtrail.core.db.database import write_transaction
from flowtrail.core.instance import register_storage
from flowtrail.core.models import Run
from flowtrail.core.runs.tracking import finish_run, start_run
from flowtrail.core.util.ids import uuid7
from flowtrail.core.util.short_ids import short_id

BRACKETS = "plates/plate[red]/well[A1].txt"
LONG_TRANSFORM = "nextflow-demo/main.nf:COUNT_WORDS_OF_EVERY_SAMPLE"


@pytest.fixture
def registry(instance, tmp_path):
    """Brackets in a key and a run name, one key in two storage locations, a failed run."""
    project = instance.config.root
    (project / "plates" / "plate[red]").mkdir(parents=True)
    (project / BRACKETS).write_text("A1\n")
    register_storage(instance, project)
    for folder in ("site-a", "site-b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.csv").write_text(f"{folder}\n")
        register_storage(instance, tmp_path / folder)
    workflow = start_run("workflow/Snakefile", type="pipeline")
    clean = start_run(LONG_TRANSFORM, type="process", parent=workflow, name="clean[sample=A]")
    ft.Artifact(project / BRACKETS, run=clean).save()
    finish_run(clean)
    failed = start_run(LONG_TRANSFORM, type="process", parent=workflow, name="COUNT (fox)")
    finish_run(failed, "failed", error="exit code 1")
    finish_run(workflow, "failed")
    for folder in ("site-a", "site-b"):
        ft.Artifact(tmp_path / folder / "x.csv").save()
    return {"project": project, "clean": clean, "failed": failed, "workflow": workflow}


def table_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


def test_runs_at_an_80_column_terminal_show_names_and_full_transform_keys(registry):
    shown = at_terminal("ls", "runs", cwd=registry["project"], columns=80)
    assert shown.returncode == 0, shown.stdout
    lines = table_lines(shown.stdout)
    assert all(len(line) <= 80 for line in lines), shown.stdout
    assert lines[0].split()[:4] == ["id", "name", "transform", "status"]
    newest = lines[1]  # newest first: the failed run was started last
    assert newest.startswith(short_id(registry["failed"])) and "COUNT (fox)" in newest and "failed" in newest
    assert "clean[sample=A]" in shown.stdout
    # The 49-character key does not fit beside the name: it breaks after its '/', never inside a name.
    first, rest = LONG_TRANSFORM.split("/", 1)
    assert f" {first}/ " in newest and f" {rest} " in lines[2]
    assert "…" not in shown.stdout and "..." not in shown.stdout
    assert lines[-1] == "3 runs"


def test_artifacts_at_a_terminal_print_brackets_exactly_and_locations_when_keys_repeat(registry, tmp_path):
    shown = at_terminal("ls", "artifacts", cwd=registry["project"], columns=200)
    lines = table_lines(shown.stdout)
    assert lines[0].split()[:3] == ["id", "key", "location"]
    assert BRACKETS in shown.stdout
    rows = {line.split()[2]: line.split()[1] for line in lines[1:-1]}
    assert rows == {str(tmp_path / "site-b"): "x.csv", str(tmp_path / "site-a"): "x.csv", str(tmp_path / "project"): BRACKETS}
    assert lines[-1] == "3 artifacts"
    narrow = at_terminal("ls", "artifacts", cwd=registry["project"], columns=60)
    assert all(len(line) <= 60 for line in table_lines(narrow.stdout)), narrow.stdout
    # Long locations break after a '/', never inside a folder name.
    assert BRACKETS in narrow.stdout


def test_piped_listings_are_tab_separated_full_values_one_row_per_line(registry, tmp_path):
    result = piped("ls", "artifacts", cwd=registry["project"])
    assert result.returncode == 0 and result.stderr == ""
    header, *rows = result.stdout.splitlines()
    names = header.split("\t")
    records = [dict(zip(names, row.split("\t"), strict=True)) for row in rows]
    assert [(r["key"], r["storage"]) for r in records] == [
        ("x.csv", str(tmp_path / "site-b")), ("x.csv", str(tmp_path / "site-a")),
        (BRACKETS, str(registry["project"])),
    ]  # fmt: skip
    assert len(records[0]["uid"]) == 20 and records[0]["short_id"] == records[0]["uid"][:8]
    runs = piped("ls", "runs", "status=failed", cwd=registry["project"]).stdout.splitlines()
    assert [row.split("\t")[2] for row in runs[1:]] == ["COUNT (fox)", ""]  # the workflow run has no name
    assert runs[1].split("\t")[3] == LONG_TRANSFORM


def test_json_and_csv_on_listings_and_describe(registry):
    project = registry["project"]
    rows = [json.loads(line) for line in piped("ls", "runs", "--json", cwd=project).stdout.splitlines()]
    assert rows[1]["name"] == "clean[sample=A]" and rows[1]["parent_uid"] == registry["workflow"].uid
    assert rows[1]["uid"] == registry["clean"].uid and rows[1]["status"] == "completed"
    csv_lines = piped("ls", "transforms", "--csv", cwd=project).stdout.splitlines()
    assert csv_lines[0] == "short_id,uid,key,version,type,created_at" and f",{LONG_TRANSFORM},1,process," in csv_lines[1]
    described = json.loads(piped("describe", "clean[sample=A]", "--json", cwd=project).stdout)
    assert described["uid"] == registry["clean"].uid and described["outputs"][0]["key"] == BRACKETS
    as_csv = piped("describe", BRACKETS, "--csv", cwd=project).stdout.splitlines()
    assert as_csv[0] == "field,value" and f"key,{BRACKETS}" in as_csv


def test_runs_are_found_by_the_tail_of_their_uid_or_their_name(registry):
    project = registry["project"]
    clean = registry["clean"]
    by_tail = piped("describe", short_id(clean), cwd=project)
    assert by_tail.returncode == 0 and clean.uid in by_tail.stdout and "clean[sample=A]" in by_tail.stdout
    assert LONG_TRANSFORM in by_tail.stdout and BRACKETS in by_tail.stdout
    by_name = piped("describe", "COUNT (fox)", cwd=project)
    assert by_name.returncode == 0 and registry["failed"].uid in by_name.stdout
    described = piped("describe", BRACKETS, cwd=project).stdout.splitlines()  # piped: no 80-column layout
    assert f"│   ├── location {project / BRACKETS} (in place)" in described
    loaded = piped("load", BRACKETS, cwd=project)
    assert loaded.stdout.strip() == str(project / BRACKETS)


def test_a_key_in_two_storage_locations_lists_the_candidates_and_how_to_choose(registry, tmp_path):
    result = piped("describe", "x.csv", cwd=registry["project"])
    assert result.returncode == 1
    assert "the key 'x.csv' exists in 2 storage locations" in result.stderr
    assert f"in {tmp_path / 'site-a'}" in result.stderr and f"in {tmp_path / 'site-b'}" in result.stderr
    assert "give a longer uid" not in result.stderr
    newest = ft.Artifact.filter(key="x.csv").order_by("-id").first()
    assert f"Choose one by its id, e.g. `flowtrail describe {short_id(newest)}`" in result.stderr
    chosen = piped("describe", short_id(newest), cwd=registry["project"])
    assert chosen.returncode == 0 and str(tmp_path / "site-b" / "x.csv") in chosen.stdout


def test_not_found_repeats_the_lookup(registry):
    result = piped("describe", "plates/plate[blue]/well[A1].txt", cwd=registry["project"])
    assert result.returncode == 1
    assert "short id, key or run name 'plates/plate[blue]/well[A1].txt'" in result.stderr
    with pytest.raises(ft.DoesNotExist, match=r"No Artifact matches key='nope.csv', version=2\."):
        ft.Artifact.get(key="nope.csv", version=2)


def add_runs(count: int) -> None:
    """``count`` finished runs of one transform, written in one bulk insert."""
    first = start_run("workflow/Snakefile/count", type="rule")
    finish_run(first)
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    rows = [
        {"uid": str(uuid7()), "name": f"count[sample={i}]", "transform_id": first.transform_id, "status": "completed",
         "started_at": start + dt.timedelta(seconds=i), "created_at": start}
        for i in range(count - 1)
    ]  # fmt: skip
    with write_transaction(current().sessions) as session:
        session.execute(insert(Run.__table__), rows)


def test_50000_runs_show_the_newest_50_and_say_how_to_see_more(instance):
    add_runs(50_000)
    result = piped("ls", "runs", cwd=instance.config.root)
    rows = result.stdout.splitlines()[1:]
    assert len(rows) == 50
    assert [row.split("\t")[2] for row in rows[:2]] == ["count[sample=49998]", "count[sample=49997]"]
    assert result.stderr.strip() == "showing 50 of 50,000 (--limit N, --all)"
    wrong = piped("ls", "runs", "--limit", "3", "started_at__gte=yesterday", cwd=instance.config.root)
    assert wrong.returncode == 2 and "started_at takes datetime values; write e.g. started_at__gte=2025-01-31" in wrong.stderr
    three = piped("ls", "runs", "--limit", "3", "--json", cwd=instance.config.root)
    assert len(three.stdout.splitlines()) == 3 and "showing 3 of 50,000" in three.stderr
    terminal = at_terminal("ls", "runs", "--limit", "5", cwd=instance.config.root, columns=80)
    assert table_lines(terminal.stdout)[-1] == "showing 5 of 50,000 (--limit N, --all)"


def test_all_lists_every_row(instance):
    add_runs(60)
    every = piped("ls", "runs", "--all", cwd=instance.config.root)
    assert len(every.stdout.splitlines()) == 61 and every.stderr == ""
    assert piped("ls", "runs", "--all", "--limit", "2", cwd=instance.config.root).returncode == 2


def test_long_paths_break_after_a_slash():
    from flowtrail.cli.tables import wrap_path

    assert wrap_path("results/plates/plate[red]/well[A1].txt", 20) == "results/plates/\nplate[red]/\nwell[A1].txt"
    assert wrap_path("short.txt", 20) == "short.txt"
    assert wrap_path("a/averyveryverylongname.txt", 10) == "a/\naveryveryv\nerylongnam\ne.txt"  # only then folded
