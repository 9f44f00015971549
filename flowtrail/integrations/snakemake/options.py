"""The plugin's settings as the recorder uses them (passed to the recorder process as JSON)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Options:
    """The plugin's settings, as the recorder uses them."""

    instance: str | None = None  # folder of the instance (or its .flowtrail/); None: discover
    hash_mode: str = "full"  # or "size-mtime"
    openlineage: bool = True  # False: never emit OpenLineage events from this process
    flush_timeout: float = 300.0  # seconds close() waits for the worker to catch up
    finished_logged: bool = True  # False under --quiet progress: Snakemake logs no job_finished
    project: str | None = None  # the runs' project; None: FLOWTRAIL_PROJECT, if set
    invocation: str | None = None  # made by the plugin: job run uids derive from it (see job_context)
