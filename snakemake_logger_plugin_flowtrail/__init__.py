"""Snakemake discovers logger plugins by this top-level package name: ``snakemake --logger flowtrail``.

The plugin itself lives in :mod:`flowtrail.integrations.snakemake`.
"""

from flowtrail.integrations.snakemake import LogHandler, LogHandlerSettings

__all__ = ["LogHandler", "LogHandlerSettings"]
