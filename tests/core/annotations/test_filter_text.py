"""Filters typed as text: values read by what they filter, and hints when nothing matches."""

from __future__ import annotations

import datetime as dt

import pytest

import flowtrail as ft
from flowtrail.core.annotations.filter_text import near_value_hint, parse_filters
from flowtrail.core.errors import FieldError
from flowtrail.core.models import Artifact, Run


def test_values_follow_the_type_of_what_they_filter(instance):
    ft.Feature(name="batch", dtype=int).save()
    ft.Feature(name="note", dtype=str).save()
    assert parse_filters(Artifact, ["key=123", "size__gt=1e6", "version=2", "is_latest=true"]) == {
        "key": "123", "size__gt": 1_000_000, "version": 2, "is_latest": True}  # fmt: skip
    assert parse_filters(Artifact, ["run__params__min_count=5", "run__params__mode=fast"]) == {
        "run__params__min_count": 5, "run__params__mode": "fast"}  # fmt: skip
    assert parse_filters(Artifact, ["batch__gte=3", "note=007", "batch__in=1,2", "batch__isnull=false"]) == {
        "batch__gte": 3, "note": "007", "batch__in": [1, 2], "batch__isnull": False}  # fmt: skip
    assert parse_filters(Run, ["started_at__gte=2025-01-31", "name__contains=[sample=A]", "transform__key=1"]) == {
        "started_at__gte": dt.datetime(2025, 1, 31), "name__contains": "[sample=A]", "transform__key": "1"}  # fmt: skip
    with pytest.raises(FieldError, match="batch takes int values; write e.g. batch__gte=3"):
        parse_filters(Artifact, ["batch__gte=many"])
    with pytest.raises(FieldError, match="is not NAME=VALUE"):
        parse_filters(Artifact, ["oops"])


def test_positional_and_where_filters_agree_on_run_params(instance, tmp_path):
    from click.testing import CliRunner

    from flowtrail.cli import cli

    for i in range(3):
        (tmp_path / f"{i}.txt").write_text(str(i))
        ft.track(transform="clean.py", params={"min_count": 5})
        ft.Artifact(tmp_path / f"{i}.txt", key=f"out/{i}.txt").save()
        ft.finish()
    runner = CliRunner()
    positional = runner.invoke(cli, ["ls", "artifacts", "run__params__min_count=5", "--json"])
    where = runner.invoke(cli, ["ls", "artifacts", "--where", "run__params__min_count=5", "--json"])
    assert len(positional.stdout.splitlines()) == len(where.stdout.splitlines()) == 3


def test_hints_name_a_near_status_label_or_categorical_value(instance):
    tissue = ft.Label(name="Tissue", is_type=True).save()
    ft.Label(name="liver", type=tissue).save()
    ft.Label(name="P53mutant1").save()
    ft.Feature(name="tissue", dtype=tissue).save()
    assert near_value_hint(Run, {"status": "complete"}) == "did you mean status='completed'?"
    assert near_value_hint(Artifact, {"run__status": "faild"}) == "did you mean run__status='failed'?"
    assert near_value_hint(Artifact, {"tissue": "livr"}) == "did you mean tissue='liver'?"
    assert near_value_hint(Artifact, {"labels__name": "P53mutant"}) == "did you mean labels__name='P53mutant1'?"
    assert near_value_hint(Run, {"status": "completed"}) is None  # exists: nothing to suggest
    assert near_value_hint(Artifact, {"tissue": "zzzz"}) is None


def test_the_command_line_shows_the_hint_when_nothing_matches(instance):
    from click.testing import CliRunner

    from flowtrail.cli import cli

    ft.track(transform="a.py")
    ft.finish()
    result = CliRunner().invoke(cli, ["ls", "runs", "status=complete"])
    assert result.exit_code == 0 and "No runs match status=complete: did you mean status='completed'?" in result.stderr


def test_grammar_hints_and_run_tails_on_postgresql(pg_instance):
    from click.testing import CliRunner

    from flowtrail.cli import cli
    from flowtrail.cli.lookup import find_record
    from flowtrail.core.runs.tracking import current_run
    from flowtrail.core.util.short_ids import short_id

    tissue = ft.Label(name="Tissue", is_type=True).save()
    ft.Label(name="liver", type=tissue).save()
    ft.Feature(name="tissue", dtype=tissue).save()
    ft.track(transform="clean.py", params={"min_count": 5})
    run = current_run()
    ft.finish()
    assert find_record(short_id(run)).id == run.id
    assert near_value_hint(Artifact, {"tissue": "livr"}) == "did you mean tissue='liver'?"
    runner = CliRunner()
    listed = runner.invoke(cli, ["ls", "runs", "params__min_count=5", "--json"])
    assert listed.exit_code == 0 and len(listed.stdout.splitlines()) == 1
    hinted = runner.invoke(cli, ["ls", "runs", "--where", "status=complete"])
    assert "did you mean status='completed'?" in hinted.stderr
