"""The one rule for the next version of a key, on records and on the rows bulk writers hold."""

from __future__ import annotations

from dataclasses import dataclass

import flowtrail as ft
from flowtrail.core.util.ids import new_stem, versioned_uid
from flowtrail.core.util.versioning import first_version, next_version, successor


@dataclass
class Row:
    uid: str
    version: int
    is_latest: bool


def test_a_first_version_has_a_new_stem_and_number_one():
    (uid, version), (other, _) = first_version(), first_version()
    assert version == 1 and len(uid) == 20
    assert uid[:16] != other[:16]
    assert next_version([])[1] == 1 and next_version([None])[1] == 1


def test_the_next_version_keeps_the_stem_counts_past_the_highest_and_takes_the_flag():
    stem = new_stem()
    first, latest = Row(versioned_uid(stem, 1), 1, False), Row(versioned_uid(stem, 3), 3, True)
    uid, version = next_version([first, latest])
    assert (uid[:16], version) == (stem, 4)
    assert uid == successor(latest.uid, latest.version)[0]
    assert not first.is_latest and not latest.is_latest


def test_saved_artifacts_collections_and_transforms_follow_the_rule(instance, tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("a\n1\n")
    one = ft.Artifact(path, key="table.csv").save()
    path.write_text("a\n2\n")
    two = ft.Artifact(path, key="table.csv").save()
    assert (two.uid, two.version) == successor(one.uid, one.version)
    assert ft.Artifact.get(id=one.id).is_latest is False and two.is_latest
    first = ft.Collection([one], key="tables").save()
    second = ft.Collection([one, two], key="tables").save()
    assert (second.uid, second.version) == successor(first.uid, first.version)
    assert ft.Collection.get(id=first.id).is_latest is False
