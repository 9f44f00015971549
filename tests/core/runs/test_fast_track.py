"""track()/finish() without SQLAlchemy write exactly what the ORM path writes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import flowtrail as ft
from flowtrail.core.instance import SCHEMA_REVISION
from flowtrail.core.runs import fast_track


def run_script(project, body: str) -> subprocess.CompletedProcess:
    script = project / "analysis.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.run([sys.executable, str(script)], cwd=project, capture_output=True, text=True)


def test_the_fast_path_knows_the_current_schema():
    assert fast_track.SCHEMA_REVISION == SCHEMA_REVISION


def test_a_tracked_script_loads_no_sqlalchemy_and_records_the_same_rows(instance, tmp_path):
    project = instance.config.root
    body = """
        import json, sys
        import flowtrail
        run = flowtrail.track(params={"threshold": 0.5, "sample": "s1"}, project="Atlas")
        flowtrail.finish()
        print(json.dumps({"uid": run.uid, "sqlalchemy": "sqlalchemy" in sys.modules}))
    """
    done = run_script(project, body)
    assert done.returncode == 0, done.stderr
    fast = json.loads(done.stdout)
    assert fast["sqlalchemy"] is False
    # The same script through the ORM path (this process has the instance connected).
    from flowtrail.core.runs.tracking import finish_run, start_run

    source = (project / "analysis.py").read_text()
    orm = finish_run(start_run("analysis.py", type="script", source_code=source,
                               params={"threshold": 0.5, "sample": "s1"}, project="Atlas"))  # fmt: skip
    instance.sessions.close()
    a, b = ft.Run.get(uid=fast["uid"]), ft.Run.get(uid=orm.uid)
    fields = ("transform_id", "params", "status", "engine", "engine_version", "environment_id", "created_by",
              "error", "parent_id", "metrics", "facets", "reference", "name", "project_id")  # fmt: skip
    assert {f: getattr(a, f) for f in fields} == {f: getattr(b, f) for f in fields}
    assert a.started_at.tzinfo is None and b.started_at.tzinfo is None  # both stored as SQLAlchemy stores them
    assert a.finished_at >= a.started_at
    transform = a.transform
    assert (transform.key, transform.version, transform.type, transform.is_latest) == ("analysis.py", 1, "script", True)
    assert ft.Run.filter(params__threshold__gt=0.1).count() == 2  # JSON written by sqlite3 is queryable


def test_changed_source_makes_a_new_version_on_the_fast_path_too(instance):
    project = instance.config.root
    for text in ("print(1)", "print(2)", "print(1)"):
        assert run_script(project, f"import flowtrail\nflowtrail.track()\n{text}\n").returncode == 0
    versions = [t.version for t in ft.Transform.filter(key="analysis.py").order_by("version")]
    assert versions == [1, 2]  # returning to the first source reuses version 1
    assert len({r.transform_id for r in ft.Run.filter()}) == 2


def test_using_the_registry_after_a_fast_track_links_outputs(instance):
    body = """
        import flowtrail
        run = flowtrail.track()
        open("out.txt", "w").write("result")
        saved = flowtrail.Artifact("out.txt", key="out.txt").save()
        assert saved.run.uid == run.uid
        print(run.transform.key)
    """
    done = run_script(instance.config.root, body)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "analysis.py"
    assert ft.Artifact.get(key="out.txt").run.status == "completed"


def test_an_outdated_schema_still_gets_the_helpful_error(instance):
    with instance.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
    done = run_script(instance.config.root, "import flowtrail\nflowtrail.track()\n")
    assert done.returncode == 1
    assert "flowtrail migrate" in done.stderr
