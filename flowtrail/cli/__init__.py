"""The ``flowtrail`` command line (click + rich)."""

from __future__ import annotations

from flowtrail.cli.main import cli, main

__all__ = ["cli", "main"]
