"""Finding a record from what a user types: uid, short id, key or run name."""

from __future__ import annotations

import pytest

import flowtrail as ft
from flowtrail.cli.lookup import find_record
from flowtrail.core.errors import DoesNotExist, MultipleResultsFound
from flowtrail.core.runs.tracking import finish_run, start_run
from flowtrail.core.util.short_ids import RUN_TAIL, short_id


def test_runs_are_told_apart_by_the_random_end_of_their_uid(instance):
    runs = [start_run("workflow/Snakefile/count", name=f"count[sample={i}]") for i in range(3)]
    tails = [short_id(r) for r in runs]
    assert len(set(tails)) == 3 and all(len(t) == RUN_TAIL and r.uid.endswith(t) for r, t in zip(runs, tails))
    assert [find_record(t).id for t in tails] == [r.id for r in runs]
    assert find_record("count[sample=1]").id == runs[1].id
    assert find_record(runs[2].uid).id == runs[2].id


def test_a_run_name_used_twice_lists_both_runs(instance):
    first = start_run("clean.py", name="clean[sample=A]")
    finish_run(first)
    second = start_run("clean.py", name="clean[sample=A]")
    with pytest.raises(MultipleResultsFound) as info:
        find_record("clean[sample=A]")
    message = str(info.value)
    assert "the run name 'clean[sample=A]' matches 2 records" in message
    assert first.uid in message and second.uid in message and "completed" in message
    assert f"e.g. `flowtrail describe {second.uid}`" in message  # newest first


def test_a_key_beats_a_uid_prefix_and_old_versions_keep_their_full_uid(instance, tmp_path):
    (tmp_path / "a.txt").write_text("one")
    old = ft.Artifact(tmp_path / "a.txt", key="a.txt").save()
    (tmp_path / "a.txt").write_text("two")
    new = ft.Artifact(tmp_path / "a.txt", key="a.txt").save()
    assert find_record("a.txt").id == new.id
    assert short_id(new) == new.uid[:8]
    assert short_id(ft.Artifact.get(uid=old.uid)) == old.uid  # a prefix would name the latest version
    assert find_record(old.uid).id == old.id


def test_nothing_found_repeats_what_was_looked_up(instance):
    with pytest.raises(DoesNotExist, match="short id, key or run name 'nope'"):
        find_record("nope")
