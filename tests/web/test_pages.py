"""The pages over real HTTP from a `flowtrail serve` process: on PostgreSQL through a role that
can only SELECT (a read-only registry), with user text escaped, missing records as 404 pages, and
/docs offline."""

from __future__ import annotations

import re

import httpx
import pytest
from browser import Server

import flowtrail as ft
from flowtrail.core.runs.tracking import finish_run, start_run


def populate(root):
    """A key with brackets, a run with params and a failed run, in a project."""
    (root / "in.txt").write_text("in")
    source = ft.Artifact(root / "in.txt", key="plates/plate[red]/well[A1].txt", description="<b>raw</b> plate").save()
    run = start_run("analysis.py", type="script", params={"min_count": 5, "label": "<script>alert(1)</script>"})
    run.name = "analysis[sample=a]"
    run.add_inputs([source])
    (root / "out.txt").write_text("out")
    out = ft.Artifact(root / "out.txt", key="results/out.txt", run=run).save()
    finish_run(run)
    bad = start_run("qc.py", type="script")
    bad.add_inputs([out])
    finish_run(bad, "failed", error="Traceback: ValueError('too few reads')")
    project = ft.Project(name="Plate screen").save()
    ft.Feature(name="batch", dtype=int).save()
    tissue = ft.Label(name="Tissue", is_type=True).save()
    ft.Label(name="liver, left lobe", type=tissue).save()
    source.features.add_values({"batch": 3})
    source.labels.add(ft.Label.get(name="liver, left lobe"))
    return source, run, out, bad, project


def assert_pages_work(url, source, run, out, bad):
    home = httpx.get(url + "/").text
    assert "analysis[sample=a]" in home and 'class="row-failed"' in home
    found = httpx.get(url + "/", params={"q": "well[A1]"}).text
    assert "plates/plate[red]/well[A1].txt" in found
    page = httpx.get(f"{url}/artifacts/{source.uid}").text
    assert "&lt;b&gt;raw&lt;/b&gt; plate" in page and "<b>raw</b>" not in page  # escaped, brackets kept
    assert re.search(r"<dt>batch</dt><dd>3</dd>", page) and "<dt>Tissue</dt>" in page and "liver, left lobe" in page
    run_page = httpx.get(f"{url}/runs/{run.uid}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in run_page and "<script>alert" not in run_page
    assert re.search(r"<th>min_count</th><td[^>]*>5</td>", run_page)
    assert "too few reads" in httpx.get(f"{url}/runs/{bad.uid}").text
    picture = httpx.get(f"{url}/ui/lineage.json", params={"node": f"artifact:{out.uid}", "direction": "both"}).json()
    titles = {n["title"]: n for n in picture["nodes"]}
    assert titles["analysis[sample=a]"]["status"] == "completed" and titles["qc.py"]["status"] == "failed"
    assert titles["results/out.txt"]["start"] and len(picture["edges"]) == 3
    transform = ft.Transform.filter(key="analysis.py").first()
    around = httpx.get(f"{url}/ui/lineage.json", params={"node": f"transform:{transform.uid}", "depth": 1}).json()
    assert {"analysis[sample=a]", "plates/plate[red]/well[A1].txt", "results/out.txt"} <= {n["title"] for n in around["nodes"]}
    lineage_page = httpx.get(f"{url}/lineage/artifact/{out.uid}")
    assert lineage_page.status_code == 200 and "/ui/static/lineage.js" in lineage_page.text
    assert httpx.get(url + "/ui/static/lineage.js").status_code == 200


def test_pages_on_a_read_only_postgresql_registry(pg_instance, postgres_server, postgres_url, tmp_path):
    root = pg_instance.config.root
    source, run, out, bad, project = populate(root)
    database = postgres_url.rsplit("/", 1)[1]
    with postgres_server.admin_connect() as admin:
        admin.execute("DROP ROLE IF EXISTS web_reader")
        admin.execute("CREATE ROLE web_reader LOGIN")
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO web_reader")
    reader_url = f"postgresql://web_reader@127.0.0.1:{postgres_server.port}/{database}"
    elsewhere = tmp_path / "elsewhere"  # FLOWTRAIL_DB_URL alone names the registry
    elsewhere.mkdir()
    server = Server(elsewhere, env={"FLOWTRAIL_DB_URL": reader_url})
    try:
        assert_pages_work(server.url, source, run, out, bad)
        assert project.name in httpx.get(f"{server.url}/projects/{project.uid}").text
        with psycopg.connect(reader_url) as conn:  # the role really cannot write
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DELETE FROM run")
    finally:
        server.stop()
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM web_reader")
        with postgres_server.admin_connect() as admin:
            admin.execute("DROP ROLE IF EXISTS web_reader")


def test_pages_on_sqlite_missing_records_and_offline_docs(instance):
    source, run, out, bad, _ = populate(instance.config.root)
    server = Server(instance.config.root)
    try:
        assert_pages_work(server.url, source, run, out, bad)
        missing = httpx.get(f"{server.url}/artifacts/doesnotexist")
        assert missing.status_code == 404 and "No artifact has the uid" in missing.text
        assert httpx.get(f"{server.url}/ui/lineage.json", params={"node": "nonsense"}).status_code == 404
        docs = httpx.get(f"{server.url}/docs")
        assert docs.status_code == 200 and "/api/v1/lineage" in docs.text
        assert not re.search(r"""(src|href)\s*=\s*["']?https?://""", docs.text)  # no CDN
        assert httpx.get(f"{server.url}/redoc").status_code == 404
        assert httpx.get(f"{server.url}/api/v1/namespaces").status_code == 200  # the API keeps its paths
        download = httpx.get(f"{server.url}/artifacts/{out.uid}/download")
        assert download.status_code == 200 and download.content == b"out"
    finally:
        server.stop()


def test_protect_reads_needs_a_key(instance):
    import subprocess

    from browser import flowtrail_command

    done = subprocess.run([*flowtrail_command(), "serve", "--protect-reads"], cwd=instance.config.root,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and "--protect-reads needs FLOWTRAIL_API_KEY" in done.stderr


def test_pages_on_a_read_only_sqlite_file(instance, tmp_path):
    source, run, out, bad, _ = populate(instance.config.root)
    database = instance.config.root / ".flowtrail" / "registry.db"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # SQLite's own read-only mode: any write the server tried would fail with "readonly database".
    server = Server(elsewhere, env={"FLOWTRAIL_DB_URL": f"sqlite:///file:{database}?mode=ro&uri=true"})
    try:
        assert_pages_work(server.url, source, run, out, bad)
        import sqlite3

        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            sqlite3.connect(f"file:{database}?mode=ro", uri=True).execute("DELETE FROM run")
    finally:
        server.stop()
