"""Snakemake adapter: ``snakemake --logger flowtrail`` records every job of every run.

Install with ``pip install flowtrail[snakemake]`` and add ``--logger flowtrail`` to the command
line (or ``logger: [flowtrail]`` to a profile); the Snakefile stays as it is. The workflow run
becomes a Run of the Snakefile's Transform (type ``pipeline``), every job a child Run of its
rule's Transform (``<workflow>/<rule>``, type ``rule``), with inputs and outputs registered in
place in the workflow's working directory. Modules:

- :mod:`.plugin`: the ``LogHandler`` and its settings (what Snakemake loads);
- :mod:`.events`: copying payloads out of log records on Snakemake's logging thread;
- :mod:`.channel` and :mod:`.worker`: handing events to the recorder process;
- :mod:`.recorder`: turning events into registry writes (in the recorder process), one class
  made of parts: :mod:`.state` (what the parts share), :mod:`.jobs` (the jobs' runs and files),
  :mod:`.streams` (pipes); every write goes through :mod:`flowtrail.core.adapter`;
  :mod:`.options` holds the settings it runs with, :mod:`.journaling` the journal after an outage;
- :mod:`.paths`, :mod:`.sources`, :mod:`.metadata`, :mod:`.workflow`: file names, Snakefile
  sources, Snakemake's metadata records, and run parameters.
"""

from flowtrail.integrations.snakemake.plugin import LogHandler, LogHandlerSettings

__all__ = ["LogHandler", "LogHandlerSettings"]
