"""Fixtures for the Snakemake adapter tests (helpers in ``snakemake_helpers.py``).

``smk`` writes workflows into the test's instance (``tmp_path / "project"``) and runs
``snakemake -c2 --logger flowtrail`` there with the OpenLineage file transport configured. The
recorder process has finished (and flushed its events) when ``snakemake`` exits, so tests query
the registry right after ``run()``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from snakemake_helpers import Snakemake, kill_group

import flowtrail as ft


@pytest.fixture
def smk(instance: ft.Instance, tmp_path: Path) -> Snakemake:
    """Snakemake runs recorded into the test's instance (its root is ``tmp_path / "project"``)."""
    return Snakemake(instance.config.root, tmp_path / "openlineage.ndjson")


@pytest.fixture
def process_groups() -> Iterator[list[subprocess.Popen[str]]]:
    """Process groups started by a test; whatever is left of them is killed afterwards."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        kill_group(process)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            pass
