"""finish_runs links the inputs an engine learns only when a task ends, in the same transaction."""

from __future__ import annotations

from pathlib import Path

import flowtrail as ft
from flowtrail.core import adapter


def test_inputs_learned_at_the_end_are_linked_when_the_run_finishes(instance: ft.Instance) -> None:
    data = Path(instance.config.root) / "data"
    data.mkdir()
    (data / "a.txt").write_text("a\n")
    (data / "b.txt").write_text("b\n")
    files = adapter.FileRegistry(instance)
    files.register_folder(str(data))
    a, b = files.inputs([str(data / "a.txt"), str(data / "b.txt")])
    heard: list[tuple[str, list[str]]] = []

    def listener(event: str, run) -> None:
        heard.append((event, sorted(x.key for x in run.inputs)))

    first, second = adapter.start_runs(instance, [adapter.RunStart("wf/x", engine="test"), adapter.RunStart("wf/y", engine="test")])
    adapter.add_run_listener(listener)
    try:
        adapter.finish_runs(instance, [adapter.RunEnd(first, inputs=[a, b]), adapter.RunEnd(second, inputs=[b, b])])
        adapter.finish_runs(instance, [adapter.RunEnd(first, inputs=[a])])  # again: nothing added twice
    finally:
        adapter.remove_run_listener(listener)
    assert heard[:2] == [("finish", ["a.txt", "b.txt"]), ("finish", ["b.txt"])]
    instance.sessions.end_read()
    assert sorted(x.key for x in ft.Run.get(uid=first.uid).inputs) == ["a.txt", "b.txt"]
    assert [x.key for x in ft.Run.get(uid=second.uid).inputs] == ["b.txt"]
