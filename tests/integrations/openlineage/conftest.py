"""Fixtures for the OpenLineage consumer tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus import CORPUS


@pytest.fixture
def corpus() -> Path:
    """The shared corpus folder; its absence is an error, not a skip."""
    if not (CORPUS / "MANIFEST.tsv").is_file():
        pytest.fail(f"the shared OpenLineage corpus is missing at {CORPUS}")
    return CORPUS
