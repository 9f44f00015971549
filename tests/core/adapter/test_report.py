"""Recording: problems reported once per kind; a registry failure switches to the journal or off."""

from __future__ import annotations

import logging

import pytest

import flowtrail as ft
from flowtrail.core import adapter
from flowtrail.core.errors import RegistryUnavailable


def test_a_problem_of_one_kind_is_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    recording = adapter.Recording("TestEngine")
    with caplog.at_level(logging.WARNING, logger="flowtrail"):
        for _ in range(3):
            assert recording.guard(lambda: 1 / 0, what="a task") is None
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["could not record a task: ZeroDivisionError('division by zero') (further such errors are not shown)"]
    assert not recording.disabled


def test_an_outage_switches_recording_to_the_journal_once(instance: ft.Instance, caplog: pytest.LogCaptureFixture) -> None:
    opened: list[adapter.JournalWriter] = []

    def open_journal() -> adapter.JournalWriter:
        opened.append(adapter.JournalWriter(instance.config, "test", "tests:replay", {}, announce=False))
        return opened[-1]

    recording = adapter.Recording("TestEngine", open_journal=open_journal)
    switched: list[bool] = []
    recording.on_off.append(lambda r: switched.append(r.journal is not None))

    def down() -> None:
        raise RegistryUnavailable("the database server at 127.0.0.1:1 refused the connection")

    with caplog.at_level(logging.WARNING, logger="flowtrail"):
        recording.guard(down)
        recording.guard(down)
    assert recording.disabled and recording.journal is opened[0] and switched == [True]
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "the registry is not usable (RegistryUnavailable" in warning and str(opened[0].path) in warning
    opened[0].close()


def test_a_registry_failure_that_does_not_pass_switches_recording_off(caplog: pytest.LogCaptureFixture) -> None:
    from flowtrail.core.errors import NoInstanceError

    recording = adapter.Recording("TestEngine", open_journal=lambda: pytest.fail("no journal for a missing instance"))
    with caplog.at_level(logging.WARNING, logger="flowtrail"):
        recording.guard(lambda: (_ for _ in ()).throw(NoInstanceError("no instance here")))
    assert recording.disabled and recording.journal is None
    assert "is not recorded from here on" in caplog.records[0].getMessage()
