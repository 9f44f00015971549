"""Fixtures for the OpenLineage consumer tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus import CORPUS


@pytest.fixture
def corpus() -> Path:
    """The corpus folder (tests/data/openlineage); its absence is an error, not a skip."""
    if not (CORPUS / "events" / "MANIFEST.tsv").is_file():
        pytest.fail(f"the OpenLineage corpus is missing at {CORPUS}")
    return CORPUS
