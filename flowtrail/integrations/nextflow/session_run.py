"""The session's pipeline Run: which pipeline ran, with which params, and starting its record.

The ``pipeline`` Transform is the main script (key = repository or script path; reference =
``repository@revision`` or the script's path); its Run has name = run name, reference = session
id, the params (from the lineage store's workflow run record if any, else ``-params-file`` and
``--param`` arguments), engine ``nextflow`` and its version, parent = the caller's tracked run if
any. :meth:`.recorder.Recorder.close` finishes it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _fs
from .lineage_store import params_of
from .pipeline import cli_params, identify, params_file
from .session_state import ENGINE, RecorderState, utcnow

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance
    from flowtrail.core.run import Run

logger = logging.getLogger("flowtrail")


class SessionRunRecorder(RecorderState):
    """Identifies the pipeline and starts the session run."""

    # -- the session ----------------------------------------------------------------------------
    def _main_script(self) -> str | None:
        script = self.info.launch.get("script")
        if script and not _fs.is_url(script) and "://" not in script:
            candidate = script if os.path.isabs(script) else os.path.join(self.launch_dir, script)
            if os.path.isfile(candidate):
                return candidate
        if self.info.scripts:
            return self.info.scripts[0]
        if self.pipeline:
            candidate = self.pipeline if os.path.isabs(self.pipeline) else os.path.join(self.launch_dir, self.pipeline)
            if os.path.isdir(candidate):
                candidate = os.path.join(candidate, "main.nf")
            if os.path.isfile(candidate):
                return candidate
        return None

    def _workflow_run_record(self) -> dict[str, Any] | None:
        if self._workflow_run is not None or self.store is None:
            return self._workflow_run
        key = self.store.workflow_run_key(self.info.run_name, self.info.session_id)
        for candidate in ([key] if key else []) + self.info.lineage_keys[:1]:
            record = self.store.workflow_run(candidate)
            if record and (not self.info.session_id or record.get("sessionId") == self.info.session_id):
                self._workflow_run = {**record, "_key": candidate}
                break
        return self._workflow_run

    def _params(self) -> dict[str, Any]:
        record = self._workflow_run_record()
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

    def _start_session(self) -> None:
        from flowtrail.core.projects import env_project
        from flowtrail.core.tracking import start_run

        info = self.info
        script = self._main_script()
        workflow = (self._workflow_run_record() or {}).get("workflow") or {}
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
        self.session_run = start_run(
            identity.key,
            type="pipeline",
            source_code=source,
            description="Nextflow pipeline",
            params=self._params() or None,
            parent=self.parent,
            reference=info.session_id,
            name=info.run_name,
            started_at=info.started_at or utcnow(),
            capture_environment=False,
            engine=ENGINE,
            engine_version=info.version,
            project=self.project or (None if self.parent is not None else env_project()),
            instance=self.instance,
        )
        if identity.reference:
            _set_transform_reference(self.instance, self.session_run, identity.reference)


def _set_transform_reference(instance: Instance, run: Run, reference: str) -> None:
    """Record where the pipeline came from on its Transform (``start_run`` cannot pass it yet)."""
    from flowtrail.core.database import write_transaction

    transform = run.transform
    if transform is None or transform.reference:
        return
    with write_transaction(instance.sessions) as session:
        session.add(transform)
        transform.reference = reference
