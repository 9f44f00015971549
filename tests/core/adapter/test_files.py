"""FileRegistry: paths of one engine invocation as artifacts, in place, cached, batch then one by one."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

import flowtrail as ft
from flowtrail.core import adapter


@pytest.fixture
def workdir(instance: ft.Instance) -> Path:
    folder = Path(instance.config.root) / "workflow"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "a.txt").write_text("a\n")
    (folder / "data" / "b.txt").write_text("b\n")
    return folder


def test_inputs_are_registered_in_place_without_a_producing_run_even_inside_a_tracked_run(
    instance: ft.Instance, workdir: Path
) -> None:
    files = adapter.FileRegistry(instance)
    files.register_folder(str(workdir))
    ft.track(params={"engine": "called from a script"})
    try:
        found = files.inputs([str(workdir / "data" / "a.txt"), str(workdir / "data" / "b.txt")])
    finally:
        ft.finish()
    assert sorted(a.key for a in found) == ["data/a.txt", "data/b.txt"]
    assert all(a.run_id is None and not a.is_managed for a in found)


def test_a_path_resolves_from_the_cache_until_the_file_changes(instance: ft.Instance, workdir: Path) -> None:
    files = adapter.FileRegistry(instance)
    files.register_folder(str(workdir))
    path = workdir / "data" / "a.txt"
    (first,) = files.inputs([str(path)])
    (again,) = files.inputs([str(path)])
    assert again is first and files.cached(str(path)) is first
    path.write_text("a changed\n")
    os.utime(path, ns=(1, 1))  # a different mtime even on a coarse clock
    (changed,) = files.inputs([str(path)])
    assert changed.id != first.id and changed.version == 2 and files.cached(str(path)) is changed


def test_a_file_inside_a_folder_output_is_that_folder_and_a_removed_output_keeps_its_artifact(
    instance: ft.Instance, workdir: Path
) -> None:
    files = adapter.FileRegistry(instance)
    files.register_folder(str(workdir))
    (run,) = adapter.start_runs(instance, [adapter.RunStart("wf/make", engine="test")])
    out = workdir / "out"
    out.mkdir()
    (out / "part-1.txt").write_text("1\n")
    temp = workdir / "temp.txt"
    temp.write_text("temporary\n")
    saved = dict((spec.location, a) for spec, a in files.outputs([adapter.FileSpec(str(out), run=run), adapter.FileSpec(str(temp), run=run)]))
    assert saved[str(out)].kind == "folder" and saved[str(out)].run_id == run.id
    temp.unlink()
    found = files.inputs([str(out / "part-1.txt"), str(temp), str(workdir / "missing.txt")])
    assert [a.id for a in found] == [saved[str(out)].id, saved[str(temp)].id]


def test_a_file_outside_every_location_gets_its_folder_registered_not_copied(
    instance: ft.Instance, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "ref.fa").write_text(">chr1\nACGT\n")
    files = adapter.FileRegistry(instance, folder_description="reference data")
    (artifact,) = files.inputs([str(elsewhere / "ref.fa")])
    assert not artifact.is_managed and artifact.key == "ref.fa"
    assert artifact.storage.root == str(elsewhere.resolve()) and artifact.storage.description == "reference data"


def test_one_file_the_registry_refuses_is_left_out_and_the_others_saved(instance: ft.Instance, workdir: Path) -> None:
    files = adapter.FileRegistry(instance)
    files.register_folder(str(workdir))
    odd = workdir / "data" / "with-a-pipe"
    odd.mkdir()
    os.mkfifo(odd / "stream")  # a folder holding a named pipe is no folder of files: refused at saving
    skipped: list[str] = []
    files.on_skip = lambda location, exc: skipped.append(location)
    found = files.resolve([adapter.FileSpec(str(workdir / "data" / n)) for n in ("a.txt", "with-a-pipe", "b.txt")])
    assert [a.key if a else None for a in found] == ["data/a.txt", None, "data/b.txt"]
    assert skipped == [str(odd)]


def test_re_registering_identical_content_links_the_new_run_quietly(
    instance: ft.Instance, workdir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = adapter.FileRegistry(instance)
    files.register_folder(str(workdir))
    (first,) = adapter.start_runs(instance, [adapter.RunStart("wf/a", engine="test")])
    out = str(workdir / "data" / "a.txt")
    ((_, made),) = files.outputs([adapter.FileSpec(out, run=first)])
    (second,) = adapter.start_runs(instance, [adapter.RunStart("wf/a", engine="test")])
    Path(out).write_text("a\n")  # the rerun writes the same bytes again
    with caplog.at_level(logging.INFO, logger="flowtrail"):
        ((_, again),) = files.outputs([adapter.FileSpec(out, run=second)])
    assert again.id == made.id and again.run_id == first.id
    assert second.output_kinds == {made.id: "wrote"}
    assert not [r for r in caplog.records if "already registered" in r.getMessage()]
