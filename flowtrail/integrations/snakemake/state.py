"""What the recorder's parts share about one Snakemake invocation, passed to each part explicitly."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from flowtrail.core import adapter
from flowtrail.integrations.snakemake import paths, sources
from flowtrail.integrations.snakemake.options import Options

ENGINE = "snakemake"


def utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


@dataclass
class Job:
    """A job whose run is open: what is needed to finish it."""

    jobid: int
    rule: str
    run: Any
    cwd: str
    started: float
    outputs: list[paths.FileRef]
    logs: list[paths.FileRef]
    benchmark: paths.FileRef | None
    shellcmd: str | None = None
    held: dict[str, str] = field(default_factory=dict)  # output -> hard link to it (see .holding)


@dataclass
class JobCounts:
    """How the jobs of this invocation ended, for the workflow run's status and metrics."""

    completed: int = 0
    failed: int = 0
    aborted: int = 0
    failed_jobs: list[str] = field(default_factory=list)


@dataclass
class Invocation:
    """One Snakemake invocation as the registry sees it: set up by the recorder at the first job.

    ``files`` and ``instance`` exist once connected; ``workflow_run`` once started.
    """

    options: Options
    instance: Any = None
    files: adapter.FileRegistry | None = None
    workflow_run: Any = None
    workflow_key: str = "Snakefile"
    engine_version: str | None = None
    source: sources.WorkflowSource | None = None
    cwds: set[str] = field(default_factory=set)  # working directories registered as storage locations
    counts: JobCounts = field(default_factory=JobCounts)
    interrupted: bool = False

    def register_cwd(self, cwd: str) -> None:
        """Files in a working directory are registered in place: make it a storage location once."""
        if cwd not in self.cwds and self.files is not None:
            self.files.register_folder(cwd, "Snakemake working directory")
            self.cwds.add(cwd)
