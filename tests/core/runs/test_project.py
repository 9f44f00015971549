"""Projects: runs belong to one, artifacts saved in them are linked, queries filter by them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

import flowtrail as ft
from flowtrail.core.models import Project
from flowtrail.core.models.links import artifact_project
from flowtrail.core.runs.projects import get_or_create_project, link_artifacts_to_project
from flowtrail.core.runs.tracking import finish_run, start_run


def _links(instance) -> set[tuple[str, str]]:
    """(artifact key, project name) of every artifact_project row."""
    from sqlalchemy import select

    from flowtrail.core.models import Artifact

    session = instance.sessions.current()
    try:
        rows = session.execute(
            select(Artifact.key, Project.name)
            .join(artifact_project, artifact_project.c.artifact_id == Artifact.id)
            .join(Project, Project.id == artifact_project.c.project_id)
        ).all()
    finally:
        instance.sessions.end_read()
    return {(key, name) for key, name in rows}


def _write(path, text: str):
    path.write_text(text)
    return path


def test_get_or_create_returns_one_row_per_name(instance):
    first = get_or_create_project("Cancer Drug Screen", "compounds x cell lines")
    again = get_or_create_project("Cancer Drug Screen", "ignored: the project exists")
    assert first.id == again.id and first.uid == again.uid
    assert len(first.uid) == 12 and first.uid.isalnum()
    assert again.description == "compounds x cell lines"
    assert Project(name="  Cancer Drug Screen ").save().id == first.id  # names are stripped
    assert Project(name="Other").save().id != first.id
    assert Project.filter().count() == 2
    with pytest.raises(ValueError):
        get_or_create_project("  ")


def test_track_with_a_project_links_the_run_and_its_outputs(instance, tmp_path):
    raw = ft.Artifact(_write(tmp_path / "raw.txt", "raw"), key="raw.txt").save()  # before the run: no project
    run = ft.track(project="Screen")
    out = ft.Artifact(_write(tmp_path / "out.txt", "out"), key="out.txt").save()
    ft.finish()
    stored = ft.Run.get(uid=run.uid)
    assert stored.project.name == "Screen"
    assert _links(instance) == {("out.txt", "Screen")}
    assert [a.key for a in ft.Artifact.filter(projects__name="Screen")] == ["out.txt"]
    project = Project.get(name="Screen")
    assert [a.key for a in ft.Artifact.filter(projects=project)] == ["out.txt"]
    assert [a.uid for a in project.artifacts] == [out.uid]
    assert [r.uid for r in ft.Run.filter(project__name="Screen")] == [run.uid]
    assert ft.Run.filter(project=project).count() == 1
    assert raw.uid not in {a.uid for a in project.artifacts}


def test_an_existing_artifact_returned_by_dedup_is_linked_too(instance, tmp_path):
    path = _write(tmp_path / "table.csv", "a,b\n1,2\n")
    before = ft.Artifact(path, key="table.csv").save()
    run = start_run("resave.py", project="Reuse")
    again = ft.save([ft.Artifact(path, key="table.csv")], run=run)[0]
    finish_run(run)
    assert again.uid == before.uid  # the same record, not a new version
    assert _links(instance) == {("table.csv", "Reuse")}
    # Saving it again in the same project adds no second link row.
    run2 = start_run("resave.py", project="Reuse")
    ft.save([ft.Artifact(path, key="table.csv")], run=run2)
    finish_run(run2)
    assert ft.Artifact.filter(projects__name="Reuse").count() == 1


def test_an_artifacts_own_run_decides_its_project(instance, tmp_path):
    in_project = start_run("a.py", project="P1")
    other = start_run("b.py")
    a = ft.Artifact(_write(tmp_path / "a.txt", "a"), key="a.txt", run=in_project)
    b = ft.Artifact(_write(tmp_path / "b.txt", "b"), key="b.txt", run=other)
    ft.save([a, b], run=None)
    assert _links(instance) == {("a.txt", "P1")}
    # A bare run reference (as engine adapters build them) is looked up in the registry.
    bare = ft.Run(id=in_project.id, uid=in_project.uid)
    ft.save([ft.Artifact(_write(tmp_path / "c.txt", "c"), key="c.txt")], run=bare)
    assert _links(instance) == {("a.txt", "P1"), ("c.txt", "P1")}


def test_tracked_functions_take_a_project_and_nested_runs_inherit_it(instance, tmp_path):
    @ft.tracked()
    def step(name: str) -> None:
        ft.Artifact(_write(tmp_path / name, name), key=name).save()

    @ft.tracked(project="Other")
    def own(name: str) -> None:
        step(name)

    @ft.tracked(key="pipeline", project="Pipe")
    def pipeline() -> None:
        step("one.txt")
        own("two.txt")

    pipeline()
    step("loose.txt")  # top level, no project, no FLOWTRAIL_PROJECT
    top = ft.Run.get(transform__key="pipeline")
    assert top.project.name == "Pipe"
    first, second = top.children
    assert first.project.name == "Pipe"  # inherited
    assert second.project.name == "Other"  # its own wins
    assert second.children[0].project.name == "Other"  # inherits from the nearest parent
    assert ft.Run.get(params__name="loose.txt").project is None
    assert ft.Run.filter(project__isnull=True).count() == 1
    assert _links(instance) == {("one.txt", "Pipe"), ("two.txt", "Other")}


def test_start_run_inherits_through_parent_id(instance):
    parent = start_run("engine.workflow", project="Wf")
    child = start_run("engine.task", parent_id=parent.id)
    grandchild = start_run("engine.sub", parent=child)
    unrelated = start_run("engine.other")
    assert {ft.Run.get(uid=r.uid).project_id for r in (parent, child, grandchild)} == {parent.project_id}
    assert parent.project_id is not None and unrelated.project_id is None


def test_flowtrail_project_env_is_the_default(instance, monkeypatch):
    monkeypatch.setenv("FLOWTRAIL_PROJECT", "FromEnv")

    @ft.tracked()
    def job() -> None:
        pass

    @ft.tracked(project="Explicit")
    def explicit() -> None:
        job()

    job()
    explicit()
    runs = {(r.transform.key.rsplit(".", 1)[-1], r.parent_id is not None): r.project.name for r in ft.Run.filter()}
    assert runs == {("job", False): "FromEnv", ("explicit", False): "Explicit", ("job", True): "Explicit"}
    run = ft.track()
    ft.finish()
    assert ft.Run.get(uid=run.uid).project.name == "FromEnv"


def _script(folder, body: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    script = folder / "analysis.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, str(script)], check=False, cwd=folder, capture_output=True, text=True,
        env={**os.environ, **(env or {})},
    )


def test_fast_path_and_orm_path_record_the_same_project(instance):
    project_dir = instance.config.root
    body = """
        import json, sys
        import flowtrail
        run = flowtrail.track(project="Shared", params={"n": 1})
        flowtrail.finish()
        print(json.dumps({"uid": run.uid, "sqlalchemy": "sqlalchemy" in sys.modules}))
    """
    done = _script(project_dir, body)
    assert done.returncode == 0, done.stderr
    fast = json.loads(done.stdout)
    assert fast["sqlalchemy"] is False  # the project did not force the ORM in
    source = (project_dir / "analysis.py").read_text()
    orm = finish_run(start_run("analysis.py", type="script", source_code=source, params={"n": 1}, project="Shared"))
    instance.sessions.close()
    a, b = ft.Run.get(uid=fast["uid"]), ft.Run.get(uid=orm.uid)
    assert a.project_id == b.project_id and a.project.name == "Shared"
    project = Project.get(name="Shared")
    assert len(project.uid) == 12 and project.created_by == b.created_by and project.description is None
    assert project.created_at.tzinfo is None  # stored the way SQLAlchemy stores it
    assert Project.filter().count() == 1


def test_a_fast_tracked_script_links_what_it_saves(instance):
    body = """
        import flowtrail
        flowtrail.track()
        open("result.txt", "w").write("result")
        flowtrail.Artifact("result.txt", key="result.txt").save()
    """
    done = _script(instance.config.root, body, {"FLOWTRAIL_PROJECT": "Env Project"})
    assert done.returncode == 0, done.stderr
    assert _links(instance) == {("result.txt", "Env Project")}
    assert ft.Run.get(transform__key="analysis.py").project.name == "Env Project"


def test_link_artifacts_to_project_adds_only_missing_rows(instance, tmp_path):
    from flowtrail.core.db.database import write_transaction

    project = get_or_create_project("Manual")
    saved = ft.save([ft.Artifact(_write(tmp_path / f"{i}.txt", str(i)), key=f"{i}.txt") for i in range(3)])
    with write_transaction(instance.sessions) as session:
        assert link_artifacts_to_project(session, project.id, [saved[0].id, saved[1].id]) == 2
    with write_transaction(instance.sessions) as session:
        assert link_artifacts_to_project(session, project.id, [a.id for a in saved]) == 1
    assert ft.Artifact.filter(projects=project).count() == 3


CONCURRENT = """
import sys
import flowtrail
if sys.argv[1] == "orm":
    flowtrail.connect()  # a connected instance takes the ORM path
run = flowtrail.track(project="Race")
flowtrail.finish()
"""


@pytest.mark.parametrize("instance_kind", ["sqlite", "postgres"])
def test_concurrent_first_runs_of_a_project_create_one_row(instance_kind, request, tmp_path):
    inst = request.getfixturevalue("instance" if instance_kind == "sqlite" else "pg_instance")
    folder = inst.config.root
    (folder / "race.py").write_text(CONCURRENT)
    modes = ["orm", "fast"] * 4 if instance_kind == "sqlite" else ["orm"] * 8
    procs = [
        subprocess.Popen([sys.executable, "race.py", mode], cwd=folder, stderr=subprocess.PIPE, text=True)
        for mode in modes
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert Project.filter(name="Race").count() == 1
    assert ft.Run.filter(project__name="Race").count() == len(modes)


def test_track_takes_a_project_record_and_rejects_empty_names(instance):
    with pytest.raises(ft.TrackingError):
        ft.track(project="  ")
    run = ft.track(project=Project(name="Rec", description="from a record"))
    ft.finish()
    stored = ft.Run.get(uid=run.uid)
    assert (stored.project.name, stored.project.description) == ("Rec", "from a record")


def test_an_artifact_can_be_added_to_and_removed_from_projects_by_hand(instance, tmp_path):
    (tmp_path / "a.txt").write_text("a")
    artifact = ft.Artifact(tmp_path / "a.txt", key="a.txt").save()
    atlas = ft.Project(name="Atlas").save()
    artifact.projects.add(atlas)
    artifact.projects.add(atlas)  # idempotent
    assert [p.name for p in artifact.projects] == ["Atlas"]
    assert ft.Artifact.filter(projects=atlas).count() == 1
    artifact.projects.remove(atlas)
    assert artifact.projects.count() == 0
