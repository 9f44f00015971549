"""The Snakemake logger plugin ``flowtrail``: ``snakemake --logger flowtrail``.

Snakemake finds it through the top-level shim package ``snakemake_logger_plugin_flowtrail``,
which re-exports :class:`LogHandler` and :class:`LogHandlerSettings` from here. ``emit()`` only
copies the payload of the events the adapter needs and queues it for the recorder process
(:mod:`.channel`); it never raises and never waits.

No ``from __future__ import annotations`` in this module: Snakemake passes the settings' type
annotations to argparse as ``type=``, and string annotations would break every ``snakemake``
command once the plugin is installed.
"""

import logging
import uuid
from dataclasses import dataclass, field
from typing import Optional

from snakemake_interface_logger_plugins.base import LogHandlerBase
from snakemake_interface_logger_plugins.settings import LogHandlerSettingsBase

from flowtrail.integrations.snakemake import job_context
from flowtrail.integrations.snakemake.channel import Channel, open_channel
from flowtrail.integrations.snakemake.events import WORKFLOW_STARTED, snapshot
from flowtrail.integrations.snakemake.holding import OutputHolder, remove_folders
from flowtrail.integrations.snakemake.recorder import Options

HASH_MODES = ("full", "size-mtime")
OPENLINEAGE_MODES = ("auto", "off")


@dataclass
class LogHandlerSettings(LogHandlerSettingsBase):
    """``--logger-flowtrail-<name>`` options (also ``logger-flowtrail-<name>:`` in a profile)."""

    # typing.Optional, not "str | None": Snakemake's argparse bridge only unwraps typing.Union.
    instance: Optional[str] = field(  # noqa: UP045
        default=None,
        metadata={
            "help": "The flowtrail instance to record into: the folder holding .flowtrail/. Default: "
            "FLOWTRAIL_INSTANCE, else the first instance found above the working directory or the "
            "Snakefile's folder, else FLOWTRAIL_DB_URL.",
            "metavar": "PATH",
        },
    )
    hash: str = field(
        default="full",
        metadata={
            "help": "How files are identified: 'full' hashes every byte (MD5); 'size-mtime' uses size "
            "and modification time only, for very large files (versions, not contents, are compared).",
            "choices": HASH_MODES,
            "metavar": "MODE",
        },
    )
    openlineage: str = field(
        default="auto",
        metadata={
            "help": "'auto' emits OpenLineage events for every run when OpenLineage is configured "
            "(OPENLINEAGE_URL, openlineage.yml, OPENLINEAGE__TRANSPORT__*); 'off' never emits from "
            "this Snakemake process (jobs' own processes are not affected).",
            "choices": OPENLINEAGE_MODES,
            "metavar": "MODE",
        },
    )
    project: Optional[str] = field(  # noqa: UP045
        default=None,
        metadata={
            "help": "The flowtrail project of the workflow run and every job run (created if new); "
            "their outputs are linked to it. Default: FLOWTRAIL_PROJECT.",
            "metavar": "NAME",
        },
    )
    flush_timeout: float = field(
        default=300.0,
        metadata={
            "help": "Seconds Snakemake waits at exit for flowtrail to finish recording (hashing large "
            "outputs can take a while); runs not recorded by then stay 'started'.",
            "metavar": "SECONDS",
        },
    )


def _quiet_progress(common_settings: object) -> bool:
    """True under ``--quiet`` / ``--quiet progress``: Snakemake then logs no ``job_finished``."""
    quiet = getattr(common_settings, "quiet", None) or ()
    try:
        return any(getattr(q, "name", str(q)).upper() == "PROGRESS" for q in quiet)
    except TypeError:
        return False


class LogHandler(LogHandlerBase):
    """Records every job of the workflow in the flowtrail registry (see the package docs)."""

    def __post_init__(self) -> None:
        self.channel: Channel | None = None
        self.holder: OutputHolder | None = None
        self.job_environment: job_context.JobEnvironment | None = None
        if getattr(self.common_settings, "dryrun", False):
            return  # a dry run records nothing
        settings = self.settings if isinstance(self.settings, LogHandlerSettings) else LogHandlerSettings()
        finished_logged = not _quiet_progress(self.common_settings)
        invocation = str(uuid.uuid4())
        # Each job's processes get their run in their environment (a script's ft.track() nests under it).
        self.job_environment = job_context.install(invocation, settings.instance or None)
        self.channel = open_channel(
            Options(
                invocation=invocation,
                instance=settings.instance or None,
                hash_mode=settings.hash if settings.hash in HASH_MODES else "full",
                openlineage=settings.openlineage != "off",
                flush_timeout=float(settings.flush_timeout),
                finished_logged=finished_logged,
                project=settings.project or None,
            )
        )
        # On Snakemake's logger itself, so it runs before Snakemake removes temp() outputs.
        self.holder = OutputHolder(finished_logged)
        logging.getLogger("snakemake.logging").addFilter(self.holder)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self.channel is not None:
                event = snapshot(record)
                if event is not None:
                    if event.kind == WORKFLOW_STARTED and self.job_environment is not None:
                        self.job_environment.workflow_id = str(event.data.get("workflow_id") or "") or None
                    self.channel.put(event)
        except Exception:  # an exception here would stop Snakemake's logging thread for good
            self.handleError(record)

    def close(self) -> None:
        try:
            if self.channel is not None:
                self.channel.close()
            if self.holder is not None:
                logging.getLogger("snakemake.logging").removeFilter(self.holder)
                remove_folders(self.holder.folders())
        except Exception:
            pass
        finally:
            super().close()

    @property
    def writes_to_stream(self) -> bool:
        return False

    @property
    def writes_to_file(self) -> bool:
        return False

    @property
    def has_filter(self) -> bool:
        return True  # Snakemake's default filter would drop job events under --quiet

    @property
    def has_formatter(self) -> bool:
        return True  # nothing is formatted: payloads are read from the records

    @property
    def needs_rulegraph(self) -> bool:
        return False
