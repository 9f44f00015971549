"""flowtrail labels / features / annotate, and ls --where / --features."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import flowtrail as ft
from flowtrail.cli import cli
from flowtrail.core.models.label import Label

OBO = """data-version: 2025-02-01
[Term]
id: CL:1
name: cell

[Term]
id: CL:2
name: T cell
synonym: "T lymphocyte" EXACT []
is_a: CL:1

[Term]
id: CL:3
name: B cell
synonym: "B lymphocyte" EXACT []
is_a: CL:1

[Term]
id: CL:4
name: gone
is_obsolete: true
"""


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def project(instance, tmp_path, runner):
    """An instance with the CellType ontology and two artifacts."""
    (tmp_path / "cl.obo").write_text(OBO)
    result = runner.invoke(cli, ["labels", "import", str(tmp_path / "cl.obo"), "--type", "CellType"])
    assert result.exit_code == 0, result.output
    for name in ("a", "b"):
        (tmp_path / f"{name}.csv").write_text(f"{name}\n1\n")
        ft.Artifact(str(tmp_path / f"{name}.csv"), key=f"data/{name}.csv").save()
    return tmp_path


def run(runner, *args):
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def tsv(output):
    """Piped listings: a header line, then one tab-separated row per line."""
    header, *rows = output.splitlines()
    return [dict(zip(header.split("\t"), row.split("\t"), strict=True)) for row in rows]


def json_lines(output):
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_labels_import_prints_the_report(project, runner, tmp_path):
    (tmp_path / "media.csv").write_text("name,ontology_id,synonyms\nDMSO,M:1,Me2SO\n")
    output = run(runner, "labels", "import", str(tmp_path / "media.csv"), "--type", "Medium")
    assert "Imported 1 terms of Medium" in output and "1 new" in output and "created the label type Medium" in output
    again = run(runner, "labels", "import", str(tmp_path / "cl.obo"), "--type", "CellType", "--format", "obo")
    assert "0 new" in again and "3 unchanged" in again and "1 obsolete terms skipped" in again


def test_labels_list_by_type_and_search(project, runner):
    Label(name="pilot", type=Label(name="Project", is_type=True).save()).save()
    rows = json_lines(run(runner, "labels", "list", "--type", "CellType", "--json"))
    assert [r["name"] for r in rows] == ["B cell", "T cell", "cell"]
    assert rows[1]["ontology_id"] == "CL:2" and rows[1]["synonyms"] == ["T lymphocyte"]
    found = json_lines(run(runner, "labels", "list", "--search", "lymphocyte", "--json"))
    assert sorted(r["name"] for r in found) == ["B cell", "T cell"]
    types = tsv(run(runner, "labels", "list", "--types"))
    assert [t["name"] for t in types] == ["CellType", "Project"]
    piped = tsv(run(runner, "labels", "list"))
    assert [(r["name"], r["type"], r["synonyms"]) for r in piped][1:3] == [
        ("T cell", "CellType", '["T lymphocyte"]'), ("cell", "CellType", "[]")]
    assert "pilot" in [r["name"] for r in piped] and len(piped) == 4
    as_csv = run(runner, "labels", "list", "--type", "CellType", "--csv").splitlines()
    assert as_csv[0] == "uid,name,type,ontology_id,synonyms" and ',B cell,CellType,CL:3,"[""B lymphocyte""]"' in as_csv[1]


def test_features_add_and_list(project, runner):
    assert "Added feature batch" in run(runner, "features", "add", "batch", "--dtype", "int", "--unit", "n")
    assert "Already registered" in run(runner, "features", "add", "batch", "--dtype", "int")
    run(runner, "features", "add", "cell_type", "--dtype", "cat[Label[CellType]]", "--description", "annotated type")
    rows = json_lines(run(runner, "features", "list", "--json"))
    assert [(r["name"], r["dtype"]) for r in rows] == [("batch", "int"), ("cell_type", "cat[Label[CellType]]")]
    assert "cat[Label[CellType]]" in run(runner, "features", "list")


def test_annotate_parses_values_by_dtype(project, runner):
    for name, dtype in (("batch", "int"), ("ratio", "float"), ("ok", "bool"), ("day", "date"), ("note", "str"),
                        ("cell_type", "cat[Label[CellType]]")):  # fmt: skip
        run(runner, "features", "add", name, "--dtype", dtype)
    output = run(runner, "annotate", "data/a.csv", "batch=3", "ratio=0.5", "ok=yes", "day=2025-01-31", "note=007",
                 "cell_type=T lymphocyte", "cell_type=CL:3")  # fmt: skip
    assert "Annotated data/a.csv" in output
    values = ft.Artifact.get(key="data/a.csv").features.get_values()
    assert values["batch"] == 3 and values["ratio"] == 0.5 and values["ok"] is True and values["note"] == "007"
    assert str(values["day"]) == "2025-01-31" and values["cell_type"] == ["T cell", "B cell"]


def test_annotate_errors_exit_nonzero_and_write_nothing(project, runner):
    run(runner, "features", "add", "batch", "--dtype", "int")
    run(runner, "features", "add", "cell_type", "--dtype", "cat[Label[CellType]]")
    bad_int = runner.invoke(cli, ["annotate", "data/a.csv", "batch=three"])
    assert bad_int.exit_code == 2 and "batch has dtype int; write e.g. batch=3" in bad_int.output
    bad_label = runner.invoke(cli, ["annotate", "data/a.csv", "batch=1", "cell_type=T cel"])
    assert bad_label.exit_code != 0 and "Did you mean 'T cell'?" in str(bad_label.exception)
    unknown = runner.invoke(cli, ["annotate", "data/a.csv", "bacth=1"])
    assert unknown.exit_code != 0 and "did you mean 'batch'?" in str(unknown.exception)
    not_pair = runner.invoke(cli, ["annotate", "data/a.csv", "batch"])
    assert not_pair.exit_code == 2 and "is not NAME=VALUE" in not_pair.output
    assert ft.Artifact.get(key="data/a.csv").features.get_values() == {}
    missing = runner.invoke(cli, ["annotate", "data/zzz.csv", "batch=1"])
    assert missing.exit_code != 0 and "has the uid, short id, key or run name 'data/zzz.csv'" in str(missing.exception)


def test_features_add_errors(project, runner):
    result = runner.invoke(cli, ["features", "add", "x", "--dtype", "integer"])
    assert result.exit_code != 0 and "Unknown feature dtype 'integer'" in str(result.exception)
    result = runner.invoke(cli, ["features", "add", "x", "--dtype", "cat[Label[Tissue]]"])
    assert result.exit_code != 0 and "No label type named 'Tissue'" in str(result.exception)


def test_labels_import_errors(project, runner, tmp_path):
    (tmp_path / "bad.obo").write_text("[Term]\nid: X:1\nname: a\nbroken line\n")
    result = runner.invoke(cli, ["labels", "import", str(tmp_path / "bad.obo"), "--type", "Bad"])
    assert result.exit_code != 0 and "bad.obo, line 4: expected 'tag: value'" in str(result.exception)
    assert Label.filter(name="Bad").count() == 0
    result = runner.invoke(cli, ["labels", "list", "--type", "CelType"])
    assert result.exit_code != 0 and "Did you mean 'CellType'?" in str(result.exception)
    untyped = runner.invoke(cli, ["labels", "import", str(tmp_path / "cl.obo")])  # no silent CellType default
    assert untyped.exit_code == 2 and "Missing option '--type'" in untyped.output


def test_errors_print_one_line_through_main(project, capsys, tmp_path):
    from flowtrail.cli import main

    with pytest.raises(SystemExit) as info:
        main(["labels", "import", str(tmp_path / "missing.obo"), "--type", "CellType"])
    assert info.value.code == 1
    assert capsys.readouterr().err.startswith(f"Error: {tmp_path / 'missing.obo'}: no such file")
    with pytest.raises(SystemExit) as info:
        main(["ls", "artifacts", "--where", "oops"])
    assert info.value.code == 2 and "is not NAME=VALUE" in capsys.readouterr().err
    result = CliRunner().invoke(cli, ["labels", "list", "--type", "CelType"])
    assert result.exit_code != 0 and "Did you mean 'CellType'?" in str(result.exception)


def test_ls_where_with_features_and_labels(project, runner):
    run(runner, "features", "add", "batch", "--dtype", "int")
    run(runner, "features", "add", "day", "--dtype", "date")
    run(runner, "features", "add", "cell_type", "--dtype", "cat[Label[CellType]]")
    run(runner, "annotate", "data/a.csv", "batch=3", "day=2025-01-31", "cell_type=T cell")
    run(runner, "annotate", "data/b.csv", "batch=5", "cell_type=B cell")
    ft.Artifact.get(key="data/b.csv").labels.add(Label(name="pilot").save())

    def keys(*where):
        args = ["ls", "artifacts", "--json"] + [x for w in where for x in ("--where", w)]
        return [r["key"] for r in json_lines(run(runner, *args))]

    assert keys("batch__gte=3") == ["data/b.csv", "data/a.csv"]  # newest first
    assert keys("batch__gte=4") == ["data/b.csv"]
    assert keys("batch__gte=3", "cell_type=T cell") == ["data/a.csv"]
    assert keys("cell_type=T lymphocyte") == []  # filters compare names exactly; annotate resolves synonyms
    assert keys("cell_type__ontology_id=CL:3") == ["data/b.csv"]
    assert keys("labels__name=pilot") == ["data/b.csv"]
    assert keys("day__lt=2025-02-01") == ["data/a.csv"]
    assert keys("batch__in=3,4") == ["data/a.csv"]
    assert keys("day__isnull=true") == ["data/b.csv"]
    bad = runner.invoke(cli, ["ls", "artifacts", "--where", "batch__gte=many"])
    assert bad.exit_code == 2 and "batch takes int values; write e.g. batch__gte=3" in bad.output
    unknown = runner.invoke(cli, ["ls", "artifacts", "--where", "bach=3"])
    assert unknown.exit_code != 0 and "Features: batch, cell_type, day" in str(unknown.exception)


def test_ls_features_adds_columns(project, runner):
    run(runner, "features", "add", "batch", "--dtype", "int")
    run(runner, "features", "add", "cell_type", "--dtype", "cat[Label[CellType]]")
    run(runner, "annotate", "data/a.csv", "batch=3", "cell_type=T cell", "cell_type=B cell")
    rows = json_lines(run(runner, "ls", "artifacts", "--features", "--json"))
    assert rows[1]["batch"] == 3 and rows[1]["cell_type"] == ["T cell", "B cell"]
    assert rows[0]["key"] == "data/b.csv" and rows[0]["batch"] is None
    piped = tsv(run(runner, "ls", "artifacts", "--features", "--where", "batch=3"))
    assert [(r["key"], r["batch"], r["cell_type"]) for r in piped] == [("data/a.csv", "3", '["T cell", "B cell"]')]
    wrong = runner.invoke(cli, ["ls", "runs", "--features"])
    assert wrong.exit_code == 2 and "only artifacts have features" in wrong.output


def test_ls_lists_collections_projects_and_schemas(instance, runner, tmp_path):
    (tmp_path / "a.txt").write_text("a")
    ft.track(project="Atlas")
    artifact = ft.Artifact(tmp_path / "a.txt", key="a.txt").save()
    ft.Collection([artifact], key="study/all").save()
    ft.finish()
    ft.Schema(name="tiny", features=[ft.Feature(name="batch", dtype=int).save()]).save()
    for kind, shown in (("collections", "study/all"), ("projects", "Atlas"), ("schemas", "tiny")):
        result = runner.invoke(cli, ["ls", kind, "--json"])
        assert result.exit_code == 0, result.output
        assert shown in result.output
    result = runner.invoke(cli, ["ls", "projects", "name=Nope"])
    assert result.stdout == "uid\tname\tdescription\tcreated_at\n" and "No projects match name=Nope." in result.stderr
