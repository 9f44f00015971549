"""Importing ontologies from local OBO and CSV/TSV files as labels of one type."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowtrail.core.annotations.ontology import OntologyImportError, import_ontology
from flowtrail.core.annotations.vocabulary import vocabulary
from flowtrail.core.models.label import Label, label_parent

OBO = r"""format-version: 1.2
data-version: releases/2024-08-16
ontology: cl
! a header comment

[Term]
id: CL:0000000
name: cell
def: "A material entity of anatomical origin \"with\" a ! inside quotes." [CARO:mah]

[Term]
id: CL:0000003
name: native cell
is_a: CL:0000000 {source="GOC:x"} ! cell

[Term]
id: CL:0000542
name: lymphocyte
synonym: "lymphocytic cell" EXACT []
is_a: CL:0000003 ! native cell

[Term]
id: CL:0000084
name: T cell
def: "A type of lymphocyte whose defining characteristic is the expression of a T cell \
receptor complex." [GOC:add]
synonym: "T-cell" EXACT []
synonym: "T lymphocyte" EXACT [] {source="x"}
synonym: "T-lymphocyte" RELATED [FOO:1]
synonym: "thymocyte-derived cell" NARROW []
is_a: CL:0000542 ! lymphocyte
relationship: part_of UBERON:0000178 ! blood

[Term]
id: CL:0000236
name: B cell
synonym: "B lymphocyte" EXACT []
synonym: "B-cell" BROAD []
is_a: CL:0000542 ! lymphocyte
is_a: UBERON:0002405 ! outside the file

[Term]
id: CL:0000624
name: CD4-positive, alpha-beta T cell
synonym: "CD4+ T cell" EXACT []
is_a: CL:0000084 ! T cell
is_a: CL:0000789 ! alpha-beta T cell

[Term]
id: CL:0000789
name: alpha-beta T cell
synonym: "alpha-beta T lymphocyte" EXACT []
is_a: CL:0000084

[Term]
id: CL:0000057
name: fibroblast
is_a: CL:0000003

[Term]
id: CL:0000010
name: cultured cell
is_a: CL:0000000

[Term]
id: CL:0000001
name: primary cultured cell
is_a: CL:0000010

[Term]
id: CL:0000099
name: obsolete interneuron
is_obsolete: true

[Typedef]
id: part_of
name: part of
is_transitive: true
"""


def write(tmp_path: Path, text: str, name: str = "cl.obo") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def cell_types() -> dict[str, Label]:
    return {label.name: label for label in Label.filter(type__name="CellType", is_type=False)}


def test_obo_import_creates_the_type_terms_synonyms_and_hierarchy(instance, tmp_path):
    report = import_ontology(write(tmp_path, OBO), type="CellType")
    assert report.created_type and report.terms == 10 and report.created == 10
    assert report.obsolete_skipped == 1 and report.stanzas_skipped == 1
    assert report.parents_outside == 1 and report.parent_links == 10
    assert "10 new" in str(report)

    labels = cell_types()
    assert "obsolete interneuron" not in labels and "part of" not in labels
    t_cell = Label.get(name="T cell")
    assert t_cell.ontology_id == "CL:0000084"
    assert t_cell.reference == "releases/2024-08-16" and t_cell.reference_type == "ontology"
    assert t_cell.synonym_list == ["T-cell", "T lymphocyte", "T-lymphocyte", "thymocyte-derived cell"]
    assert t_cell.description.endswith("expression of a T cell receptor complex.")
    assert Label.get(name="cell").description == 'A material entity of anatomical origin "with" a ! inside quotes.'

    cd4 = Label.get(name="CD4-positive, alpha-beta T cell")
    assert {p.name for p in cd4.parents} == {"T cell", "alpha-beta T cell"}
    assert {c.name for c in t_cell.children} == {"CD4-positive, alpha-beta T cell", "alpha-beta T cell"}
    assert [p.name for p in Label.get(name="B cell").parents] == ["lymphocyte"]
    assert [p.name for p in Label.get(name="native cell").parents] == ["cell"]
    assert Label.filter(parents__name="lymphocyte").count() == 2


def test_curation_matches_synonyms_and_ids(instance, tmp_path):
    import_ontology(write(tmp_path, OBO), type="CellType")
    vocab = vocabulary("CellType")
    assert vocab.name_of("T lymphocyte") == "T cell"
    assert vocab.name_of("t-cell") == "T cell"
    assert vocab.name_of("CL:0000236") == "B cell"
    assert vocab.name_of("CD4+ T cell") == "CD4-positive, alpha-beta T cell"
    assert vocab.name_of("neuron") is None


def test_synonym_scopes_and_prefix_and_obsolete_options(instance, tmp_path):
    path = write(tmp_path, OBO)
    report = import_ontology(path, type="Exact", synonym_scopes=["EXACT"], include_obsolete=True)
    assert report.terms == 11
    assert Label.get(name="T cell", type__name="Exact").synonym_list == ["T-cell", "T lymphocyte"]
    mixed = OBO + "\n[Term]\nid: UBERON:0000178\nname: blood\n"
    report = import_ontology(write(tmp_path, mixed, "mixed.obo"), type="Prefixed", prefix="CL")
    assert report.terms == 10 and report.other_prefix_skipped == 1


def test_csv_and_tsv_variants(instance, tmp_path):
    csv_text = (
        "ontology_id,name,synonyms,parents,description,comment\n"
        "M:1,medium,,,,\n"
        'M:2,DMSO,"dimethyl sulfoxide|Me2SO",M:1,"a solvent, polar",x\n'
        "M:3,water,H2O,M:1|M:9,,\n"
    )
    report = import_ontology(write(tmp_path, csv_text, "media-v2.csv"), type="Medium")
    assert report.format == "csv" and report.created == 3 and report.reference == "v2"
    assert report.ignored_columns == ["comment"] and report.parents_outside == 1
    dmso = Label.get(name="DMSO")
    assert dmso.synonym_list == ["dimethyl sulfoxide", "Me2SO"] and dmso.description == "a solvent, polar"
    assert [p.name for p in dmso.parents] == ["medium"]

    tsv = "name\tontology_id\tparents\nliver\tT:1\t\nhepatocyte zone\tT:2\tT:1\n"
    report = import_ontology(write(tmp_path, tsv, "tissue.txt"), type="Tissue", format="tsv")
    assert report.created == 2 and report.reference == "tissue.txt"
    assert [c.name for c in Label.get(name="liver").children] == ["hepatocyte zone"]


def test_reimport_of_a_newer_release_updates_and_adds_without_duplicates(instance, tmp_path):
    import_ontology(write(tmp_path, OBO), type="CellType")
    t_cell_id = Label.get(name="T cell").id
    stale = Label.get(name="B cell")  # loaded before the re-import: must not show old values
    newer = (
        OBO.replace("releases/2024-08-16", "releases/2025-01-01")
        .replace("name: T cell\n", "name: T-lymphocyte cell\n")
        .replace('synonym: "B-cell" BROAD []\n', 'synonym: "B-lymphocyte" EXACT []\n')
        .replace("is_a: CL:0000789 ! alpha-beta T cell\n", "")
        + "\n[Term]\nid: CL:0000236x\nname: new cell\nis_a: CL:0000000\n"
    )
    report = import_ontology(write(tmp_path, newer, "cl-new.obo"), type="CellType")
    assert report.created == 1 and report.updated == 2 and report.unchanged == 8
    assert report.links_removed == 1 and report.links_added == 1
    labels = cell_types()
    assert len(labels) == 11 and Label.filter(type__name="CellType").count() == 11
    renamed = labels["T-lymphocyte cell"]
    assert renamed.id == t_cell_id and renamed.reference == "releases/2025-01-01"
    assert stale.synonym_list == ["B lymphocyte", "B-lymphocyte"]
    cd4 = labels["CD4-positive, alpha-beta T cell"]
    assert [p.name for p in cd4.parents] == ["T-lymphocyte cell"]

    again = import_ontology(write(tmp_path, newer, "cl-new.obo"), type="CellType")
    assert again.created == 0 and again.updated == 0 and again.links_added == again.links_removed == 0


def test_a_label_made_by_hand_adopts_its_term(instance, tmp_path):
    cell_type = Label(name="CellType", is_type=True).save()
    manual = Label(name="fibroblast", type=cell_type).save()
    report = import_ontology(write(tmp_path, OBO), type="CellType")
    assert not report.created_type and report.created == 9 and report.updated == 1
    assert Label.get(id=manual.id).ontology_id == "CL:0000057"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[Term]\nid: X:1\nname: a\n[Term]\nid: X:1\nname: b\n", "line 4: duplicate id X:1 (first at line 1)"),
        ("[Term]\nid: X:1\nname: a\nthis line has no colon\n", "line 4: expected 'tag: value'"),
        ('[Term]\nid: X:1\nname: a\ndef: "never closed []\n', "line 4: def: the quoted text is never closed"),
        ("[Term]\nid: X:1\nname: a\nsynonym: unquoted EXACT []\n", "line 4: synonym: expected a quoted text"),
        ("[Term]\nid: X:1\nname: a\n\n[Term]\nname: b\n", "line 5: this [Term] has no 'id:' line"),
        ("[Term]\nid: X:1\n\n[Term]\nid: X:2\nname: b\n", "line 1: term X:1 has no 'name:' line"),
        ("[Term]\nid: X:1\nname: a\nis_a:\n", "line 4: 'is_a:' has no value"),
        ("[Term\nid: X:1\n", "line 1: '[Term' is not a stanza header"),
        ("[Term]\nid: X:1\nname: a\nis_a: X:1\n", "line 1: X:1 lists itself as a parent"),
        ('[Term]\nid: X:1\nname: a\nsynonym: "b" WIDE []\n', "line 4: synonym scope 'WIDE'"),
    ],
)
def test_malformed_obo_names_the_line_and_writes_nothing(instance, tmp_path, text, expected):
    path = write(tmp_path, text, "bad.obo")
    with pytest.raises(OntologyImportError) as error:
        import_ontology(path, type="Broken")
    assert f"{path}, {expected}" in str(error.value)
    assert Label.filter(name="Broken").count() == 0 and Label.all().count() == 0


def test_a_cycle_is_refused_and_nothing_is_written(instance, tmp_path):
    text = "[Term]\nid: X:1\nname: a\nis_a: X:2\n\n[Term]\nid: X:2\nname: b\nis_a: X:1\n"
    with pytest.raises(OntologyImportError, match="cycle"):
        import_ontology(write(tmp_path, text), type="Loop")
    assert Label.all().count() == 0
    session = instance.sessions.current()
    assert session.execute(label_parent.select()).all() == []
    instance.sessions.end_read()


def test_csv_errors_list_the_expected_columns_and_lines(instance, tmp_path):
    with pytest.raises(OntologyImportError, match="missing column ontology_id; the header must name name, ontology_id"):
        import_ontology(write(tmp_path, "name,synonym\na,b\n", "x.csv"), type="T")
    with pytest.raises(OntologyImportError, match=r"x.csv, line 3: empty name"):
        import_ontology(write(tmp_path, "name,ontology_id\na,X:1\n,X:2\n", "x.csv"), type="T")
    with pytest.raises(OntologyImportError, match=r"line 3: duplicate id X:1 \(first at line 2\)"):
        import_ontology(write(tmp_path, "name,ontology_id\na,X:1\nb,X:1\n", "x.csv"), type="T")
    assert Label.all().count() == 0


def test_missing_file_and_unknown_format(instance, tmp_path):
    with pytest.raises(OntologyImportError, match="no such file"):
        import_ontology(tmp_path / "nope.obo")
    with pytest.raises(OntologyImportError, match="format='obo', 'csv' or 'tsv'"):
        import_ontology(write(tmp_path, "x", "terms.json"))
    with pytest.raises(OntologyImportError, match="local files only"):
        import_ontology("https://example.org/cl.obo")


def test_three_thousand_terms_import_and_reimport_unchanged(instance, tmp_path):
    lines = ["format-version: 1.2", "data-version: v1", ""]
    for i in range(3000):
        lines += ["[Term]", f"id: X:{i:07d}", f"name: term {i}", f'def: "term number {i}" []', f'synonym: "t{i}" EXACT []']
        if i:
            lines.append(f"is_a: X:{(i - 1) // 2:07d} ! parent")
        lines.append("")
    path = write(tmp_path, "\n".join(lines), "big.obo")
    report = import_ontology(path, type="Big")
    again = import_ontology(path, type="Big")
    assert report.created == 3000 and report.parent_links == 2999 and again.unchanged == 3000
    assert [c.name for c in Label.get(name="term 0").children] == ["term 1", "term 2"]


@pytest.mark.postgres
def test_import_and_reimport_on_postgresql(pg_instance, tmp_path):
    report = import_ontology(write(tmp_path, OBO), type="CellType")
    assert report.created == 10 and report.parent_links == 10
    newer = OBO.replace("name: fibroblast\n", "name: fibroblast cell\n").replace("is_a: CL:0000010\n", "is_a: CL:0000003\n")
    again = import_ontology(write(tmp_path, newer, "cl2.obo"), type="CellType")
    assert again.created == 0 and again.updated == 1 and again.links_added == again.links_removed == 1
    assert [p.name for p in Label.get(name="primary cultured cell").parents] == ["native cell"]
    assert vocabulary("CellType").name_of("B lymphocyte") == "B cell"
    with pytest.raises(OntologyImportError, match="cycle"):
        import_ontology(write(tmp_path, OBO.replace("name: cell\n", "name: cell\nis_a: CL:0000001\n"), "loop.obo"), type="CellType")
    assert Label.get(name="fibroblast cell").ontology_id == "CL:0000057"
