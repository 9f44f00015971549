"""The session's pipeline Run: which pipeline ran, with which params, and starting its record.

The ``pipeline`` Transform is the main script (key = repository or script path; reference =
``repository@revision`` or the script's path); its Run has name = run name, reference = session
id, the params (from the lineage store's workflow run record if any, else ``-params-file`` and
``--param`` arguments), engine ``nextflow`` and its version, parent = the caller's tracked run if
any. :meth:`SessionRun.finish` ends it with the session's metrics (task counts, exit code,
session id, command, revision, launch and work dir, lineage store).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowtrail.core import adapter
from flowtrail.integrations.nextflow import _fs
from flowtrail.integrations.nextflow.lineage_store import params_of
from flowtrail.integrations.nextflow.log import Event, first_error
from flowtrail.integrations.nextflow.pipeline import cli_params, identify, params_file
from flowtrail.integrations.nextflow.session_state import ENGINE, SessionState, utcnow

if TYPE_CHECKING:
    import datetime as dt

    from flowtrail.core.models import Run
    from flowtrail.integrations.nextflow.artifacts import ArtifactResolver

logger = logging.getLogger("flowtrail")


class SessionRun:
    """Identifies the pipeline, starts the session run and finishes it."""

    def __init__(
        self,
        state: SessionState,
        resolver: ArtifactResolver,
        instance: adapter.Instance,
        *,
        pipeline: str | None,
        cli_args: list[str],
        parent: Run | None,
        project: str | None,
    ) -> None:
        self.state = state
        self.resolver = resolver
        self.instance = instance
        self.pipeline = pipeline
        self.cli_args = cli_args
        self.parent = parent
        self.project = project  # None: the parent run's project, else FLOWTRAIL_PROJECT
        self.run: Run | None = None
        self.pipeline_key: str | None = None
        self._workflow_run: dict[str, Any] | None = None

    @property
    def launch_dir(self) -> str:
        return self.state.launch_dir

    def main_script(self) -> str | None:
        """The pipeline's main script on this machine, if it can be found."""
        info = self.state.info
        script = info.launch.get("script")
        if script and not _fs.is_url(script) and "://" not in script:
            candidate = script if os.path.isabs(script) else os.path.join(self.launch_dir, script)
            if os.path.isfile(candidate):
                return candidate
        if info.scripts:
            return info.scripts[0]
        if self.pipeline:
            candidate = self.pipeline if os.path.isabs(self.pipeline) else os.path.join(self.launch_dir, self.pipeline)
            if os.path.isdir(candidate):
                candidate = os.path.join(candidate, "main.nf")
            if os.path.isfile(candidate):
                return candidate
        return None

    def workflow_run_record(self) -> dict[str, Any] | None:
        """The lineage store's record of this run (with its ``_key``), if lineage was on."""
        store, info = self.state.store, self.state.info
        if self._workflow_run is not None or store is None:
            return self._workflow_run
        key = store.workflow_run_key(info.run_name, info.session_id)
        for candidate in ([key] if key else []) + info.lineage_keys[:1]:
            record = store.workflow_run(candidate)
            if record and (not info.session_id or record.get("sessionId") == info.session_id):
                self._workflow_run = {**record, "_key": candidate}
                break
        return self._workflow_run

    def _params(self) -> dict[str, Any]:
        record = self.workflow_run_record()
        if record is not None:
            return params_of(record)
        params: dict[str, Any] = {}
        args = self.cli_args
        for flag in ("-params-file",):
            if flag in args and args.index(flag) + 1 < len(args):
                path = args[args.index(flag) + 1]
                try:
                    params.update(params_file(path if os.path.isabs(path) else os.path.join(self.launch_dir, path)))
                except (OSError, ValueError) as exc:
                    logger.debug("nextflow: cannot read %s: %s", path, exc)
        params.update(cli_params(args))
        return params

    def start(self) -> None:
        """Register the storage locations and start the session run."""
        info = self.state.info
        script = self.main_script()
        workflow = (self.workflow_run_record() or {}).get("workflow") or {}
        root = self.instance.config.root
        identity = identify(
            script, info.launch.get("script") or self.pipeline, info.launch.get("revision"),
            info.launch.get("branch"), Path(root) if root else None,
            repository=workflow.get("repository"), commit=workflow.get("commitId"),
        )  # fmt: skip
        self.pipeline_key = identity.key
        source = None
        if script:
            source = _fs.read_text(script)
        self.resolver.register_root(self.launch_dir)
        if info.workdir:
            workdir = info.workdir if _fs.is_url(info.workdir) else os.path.realpath(info.workdir)
            if not _fs.is_url(workdir) and not (workdir + "/").startswith(self.launch_dir + "/"):
                self.resolver.register_root(workdir)
            self.resolver.add_work_root(workdir)
        else:
            self.resolver.add_work_root(os.path.join(self.launch_dir, "work"))
        start = adapter.RunStart(
            identity.key,
            type="pipeline",
            source_code=source,
            description="Nextflow pipeline",
            params=self._params() or None,
            parent=self.parent,
            reference=info.session_id,
            name=info.run_name,
            started_at=info.started_at or utcnow(),
            engine=ENGINE,
            engine_version=info.version,
            transform_reference=identity.reference,
            project=self.project or (None if self.parent is not None else adapter.env_project()),
        )
        (self.run,) = adapter.start_runs(self.instance, [start])

    def finish(
        self,
        return_code: int | None,
        counts: dict[str, int],
        *,
        error: str | None,
        aborted: bool,
        finished_at: dt.datetime,
    ) -> Run:
        """End the session run: status from the exit code, the first error, final params and metrics."""
        assert self.run is not None
        info = self.state.info
        if aborted:
            status = "aborted"
        elif return_code == 0:
            status = "completed"
        else:
            status = "failed"
        if status != "completed" and error is None:
            error = first_error([Event("error", None, {"message": m}) for m in info.errors])
            if error is None and return_code not in (None, 0):
                error = f"nextflow exited with status {return_code}"
        record = self.workflow_run_record()
        params = params_of(record) if record is not None else None  # every param, defaults included
        metrics: dict[str, Any] = {"tasks": dict(sorted(counts.items()))}
        if return_code is not None:
            metrics["exit_code"] = return_code
        if info.session_id:
            metrics["session_id"] = info.session_id
        if info.command:
            metrics["command"] = info.command
        if info.launch.get("revision"):
            metrics["revision"] = info.launch["revision"]
        metrics["launch_dir"] = self.launch_dir
        if info.workdir:
            metrics["work_dir"] = info.workdir
        if self.state.store is not None:
            metrics["lineage_store"] = self.state.store.location
        end = adapter.RunEnd(self.run, status, error=error, metrics=metrics, finished_at=finished_at, params=params)
        (run,) = adapter.finish_runs(self.instance, [end])
        return run

