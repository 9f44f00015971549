"""Fixtures for the Nextflow adapter tests: a real Nextflow on PATH, scenarios shared by workers."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from nfhelpers import shared_folder

import flowtrail as ft
from flowtrail.core.db.context import disconnect


def _missing(message: str) -> None:
    """Skip on a developer's machine; fail on CI (CI set), where Nextflow must be installed."""
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def nextflow_ready() -> str:
    """The `nextflow` executable (and nextflowpy importable), or skip/fail with the reason."""
    path = shutil.which("nextflow")
    if path is None:
        _missing(
            "no `nextflow` executable on PATH: run the tests with `make test`, or first "
            'export PATH="$(bash scripts/install-nextflow --quiet):$PATH"'
        )
    try:
        import nextflow  # noqa: F401 - nextflowpy
    except ImportError:
        _missing("nextflowpy is not installed: pip install -e '.[test]'")
    return str(path)


@pytest.fixture(scope="session")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_folder(tmp_path_factory)


@pytest.fixture
def connect_to() -> Iterator[Callable[[str | Path], ft.Instance]]:
    """Connect a scenario's instance for this test (read-only use), disconnect afterwards."""

    def connect(root: str | Path) -> ft.Instance:
        return ft.connect(root)

    yield connect
    disconnect()
