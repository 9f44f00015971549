"""Nextflow adapter: register every session and task of a Nextflow run, live or after the fact.

From Python::

    from flowtrail.integrations import nextflow as ftnf

    result = ftnf.run("main.nf", ["-resume", "--outdir", "results"])  # needs nextflowpy + Nextflow
    result.run.children          # the task runs
    ftnf.import_run("path/to/launch_dir")                            # needs neither

From the shell: ``flowtrail nextflow run main.nf -resume`` and ``flowtrail nextflow import DIR``.

nextflowpy (GPL-3.0-or-later) is imported only by :func:`run`, and only when it is called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowtrail.integrations.nextflow.importer import import_all, import_run
    from flowtrail.integrations.nextflow.runner import NextflowResult, run

_EXPORTS = {
    "run": ".runner",
    "NextflowResult": ".runner",
    "import_run": ".importer",
    "import_all": ".importer",
}

__all__ = ["NextflowResult", "import_all", "import_run", "run"]  # sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value
