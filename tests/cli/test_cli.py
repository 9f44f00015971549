import json

import pytest
from click.testing import CliRunner

import flowtrail as ft
from flowtrail.cli import cli


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def project(tmp_path, monkeypatch, runner):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, ["init", "project"])
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(tmp_path / "project")
    yield tmp_path / "project"
    from flowtrail.core.db.context import disconnect

    disconnect()


def test_init_creates_the_instance_and_info_shows_it(runner, project):
    assert (project / ".flowtrail" / "config.json").is_file()
    assert (project / ".flowtrail" / "registry.db").is_file()
    result = runner.invoke(cli, ["info", "--json"])
    assert result.exit_code == 0, result.output
    details = json.loads(result.output)
    assert details["root"] == str(project)
    assert details["storage"] == str(project / ".flowtrail" / "storage")
    assert details["counts"]["artifact"] == 0
    piped = dict(line.split("\t") for line in runner.invoke(cli, ["info"]).stdout.splitlines())
    assert piped["folder"] == str(project) and piped["artifacts"] == "0"


def test_init_twice_explains_what_to_do(runner, project):
    result = runner.invoke(cli, ["init", "."])
    assert result.exit_code != 0
    assert "already holds a flowtrail instance" in str(result.exception)


def test_save_ls_describe_load(runner, project):
    (project / "table.csv").write_text("a,b\n1,2\n")
    saved = runner.invoke(cli, ["save", "table.csv", "--key", "tables/t.csv"])
    assert saved.exit_code == 0, saved.output
    assert "Saved tables/t.csv v1" in saved.output
    again = runner.invoke(cli, ["save", "table.csv", "--key", "tables/t.csv"])
    assert "Already registered" in again.output

    listed = runner.invoke(cli, ["ls", "artifacts", "key__startswith=tables/", "--json"])
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert [r["key"] for r in rows] == ["tables/t.csv"]
    assert runner.invoke(cli, ["ls", "artifacts", "size__gt=1000", "--json"]).stdout == ""

    described = runner.invoke(cli, ["describe", "tables/t.csv"])
    assert described.exit_code == 0 and rows[0]["uid"] in described.output

    loaded = runner.invoke(cli, ["load", rows[0]["uid"][:10]])
    assert loaded.exit_code == 0
    assert open(loaded.output.strip()).read() == "a,b\n1,2\n"


def test_ls_with_an_unknown_field_names_the_valid_ones(runner, project):
    result = runner.invoke(cli, ["ls", "artifacts", "sise=3"])
    assert result.exit_code != 0
    assert "Did you mean 'size'?" in str(result.exception)


def test_ls_runs_and_transforms(runner, project):
    ft.track(transform="analysis.py", params={"k": 1})
    ft.finish()
    runs = runner.invoke(cli, ["ls", "runs", "status=completed", "--json"])
    assert json.loads(runs.output.splitlines()[0])["transform"] == "analysis.py"
    transforms = runner.invoke(cli, ["ls", "transforms"])
    assert "analysis.py" in transforms.output


def test_storage_add_registers_in_place_locations(runner, project, tmp_path):
    data = tmp_path / "shared-data"
    data.mkdir()
    (data / "x.txt").write_text("x")
    assert runner.invoke(cli, ["storage", "add", str(data)]).exit_code == 0
    listed = runner.invoke(cli, ["storage", "list", "--json"])
    roots = [json.loads(line)["root"] for line in listed.output.splitlines()]
    assert roots == [str(project / ".flowtrail" / "storage"), str(data)]
    result = runner.invoke(cli, ["save", str(data / "x.txt")])
    assert "Saved x.txt v1" in result.output
    assert ft.Artifact.get(key="x.txt").cache() == data / "x.txt"


def test_migrate_is_a_no_op_when_up_to_date(runner, project):
    result = runner.invoke(cli, ["migrate"])
    assert result.exit_code == 0 and "up to date" in result.output


def test_main_turns_flowtrail_errors_into_one_line(project, capsys):
    from flowtrail.cli import main

    with pytest.raises(SystemExit) as info:
        main(["describe", "does-not-exist"])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: No artifact, collection, run or transform")
    assert "Traceback" not in err


def test_lineage_command_writes_every_format(runner, project):
    (project / "in.txt").write_text("in")
    ft.track(transform="make.py")
    source = ft.Artifact(project / "in.txt", key="in.txt").save()
    ft.finish()
    run = ft.track(transform="use.py")
    source.cache()  # read inside the run: an input
    (project / "out.txt").write_text("out")
    ft.Artifact(project / "out.txt", key="out.txt").save()
    ft.finish()
    result = runner.invoke(cli, ["lineage", "out.txt", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    names = sorted(n.get("key") or n.get("transform") for n in data["nodes"])
    assert names == ["in.txt", "make.py", "out.txt", "use.py"]
    result = runner.invoke(cli, ["lineage", "in.txt", "--down", "-o", "down.mmd"])
    assert result.exit_code == 0 and (project / "down.mmd").read_text().startswith("flowchart LR")
    one_step = json.loads(runner.invoke(cli, ["lineage", "out.txt", "--format", "json", "--depth", "1"]).output)
    assert sorted(n.get("key") or n.get("transform") for n in one_step["nodes"]) == ["in.txt", "out.txt", "use.py"]
    assert run.uid in {n["uid"] for n in one_step["nodes"]}
