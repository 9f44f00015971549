"""graph.artifacts / graph.runs are rows read in one query per kind that behave like the ORM records."""

import pytest
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

import flowtrail as ft
from flowtrail.core.runs.tracking import finish_run, start_run


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_instance(request):
    return request.getfixturevalue("instance" if request.param == "sqlite" else "pg_instance")


@pytest.fixture
def chain(any_instance, tmp_path):
    """raw.fq -> align -> sample.bam -> call -> calls.vcf"""
    def save(key, text, run=None):
        path = tmp_path / key
        path.write_text(text)
        return ft.Artifact(path, key=key, run=run, description=f"the {key}").save()

    raw = save("raw.fq", "@r1\nACGT\n")
    align = start_run("align", type="rule", params={"threads": 4})
    align.add_inputs([raw])
    bam = save("sample.bam", "BAM", align)
    finish_run(align)
    call = start_run("call", type="rule")
    call.add_inputs([bam])
    vcf = save("calls.vcf", "VCF", call)
    finish_run(call, "failed", error="exit 1")
    return raw, bam, vcf


def columns(model):
    return [attr.key for attr in sa_inspect(model).column_attrs]


def test_rows_have_the_column_values_of_the_orm_records(chain, any_instance):
    raw, bam, vcf = chain
    up = vcf.upstream()
    fresh = Session(any_instance.engine)  # records as read from the database, not as saved in this process
    for row in up.artifacts:
        record = fresh.get(ft.Artifact, row.id)
        assert isinstance(row, ft.Artifact)
        assert {c: getattr(row, c) for c in columns(ft.Artifact)} == {c: getattr(record, c) for c in columns(ft.Artifact)}
        assert row == record and record == row and repr(row) == repr(record)
    for row in up.runs:
        record = fresh.get(ft.Run, row.id)
        assert isinstance(row, ft.Run)
        assert {c: getattr(row, c) for c in columns(ft.Run)} == {c: getattr(record, c) for c in columns(ft.Run)}
    fresh.close()
    assert up.artifacts == [raw, bam]
    assert {r.status for r in up.runs} == {"completed", "failed"}


def test_relations_and_methods_work_on_rows(chain):
    raw, bam, vcf = chain
    up = vcf.upstream()
    assert sorted(r.transform.key for r in up.runs) == ["align", "call"]
    by_key = {a.key: a for a in up.artifacts}
    assert by_key["sample.bam"].run.transform.key == "align"
    assert [a.key for a in by_key["sample.bam"].upstream().artifacts] == ["raw.fq"]
    assert by_key["raw.fq"] in {a.id: a for a in up.artifacts}.values()


def test_a_changed_row_saves_like_the_record(chain):
    raw, bam, vcf = chain
    row = next(a for a in vcf.upstream().artifacts if a.key == "raw.fq")
    row.description = "reads of sample 1"
    row.save()
    assert ft.Artifact.get(id=raw.id).description == "reads of sample 1"
    assert row.description == "reads of sample 1"
