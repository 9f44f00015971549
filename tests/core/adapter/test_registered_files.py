"""FileRegistry.registered: files known never to change are found by key, without hashing them again."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowtrail as ft
from flowtrail.core import adapter


def test_registered_files_are_found_by_key_and_remembered_without_hashing(
    instance: ft.Instance, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = Path(instance.config.root) / "work" / "ab" / "cdef"
    work.mkdir(parents=True)
    (work / "out.txt").write_text("made once\n")
    (work / "other.txt").write_text("never registered\n")
    first = adapter.FileRegistry(instance)
    first.register_folder(str(instance.config.root))
    (made,) = first.inputs([str(work / "out.txt")])

    def no_saving(*args, **kwargs):
        raise AssertionError("a registered file was saved (hashed) again")

    later = adapter.FileRegistry(instance)  # a later invocation (a -resume): an empty cache
    monkeypatch.setattr("flowtrail.core.artifacts.save.save_artifacts", no_saving)
    found = later.registered([str(work / "out.txt"), str(work / "other.txt"), str(work / "gone.txt")])
    assert {location: a.id for location, a in found.items()} == {str(work / "out.txt"): made.id}
    assert [a.id for a in later.inputs([str(work / "out.txt")])] == [made.id]  # remembered: no save


def test_a_registered_file_rewritten_since_is_left_to_hashing(instance: ft.Instance) -> None:
    path = Path(instance.config.root) / "work" / "result.txt"
    path.parent.mkdir()
    path.write_text("short\n")
    files = adapter.FileRegistry(instance)
    files.register_folder(str(instance.config.root))
    files.inputs([str(path)])
    path.write_text("longer content now\n")
    assert adapter.FileRegistry(instance).registered([str(path)]) == {}
