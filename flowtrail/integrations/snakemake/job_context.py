"""Every job's processes learn their job's run: ``OPENLINEAGE_PARENT_ID`` in their environment.

The logger plugin lives in Snakemake's main process and records jobs in a separate recorder
process, asynchronously. So the job's run uid is not looked up but derived, the same way on both
sides: ``uuid5(invocation, "job/<jobid>")``, where the invocation id is made by the plugin at
start-up and handed to the recorder with its options (job ids are unique per invocation).

In the main process, :func:`install` wraps the local executor so that, while a job runs in its
executor thread, every process Snakemake starts for it (the ``shell:`` command, the Python
interpreter of a ``script:``, the spawned process of a ``run:`` block) gets::

    OPENLINEAGE_PARENT_ID=<namespace>/<workflow>/<rule>/<job run uid>
    OPENLINEAGE_ROOT_PARENT_ID=<namespace>/<workflow>/<workflow run uid>

``ft.track()`` in a script nests under that run; dbt-ol and openlineage-spark name it as their
parent. Only the environment of the job's own processes changes: Snakemake and its other jobs
see nothing. If Snakemake's internals differ from what this expects, nothing is installed.
"""

import logging
import os
import subprocess
import threading
import types
import uuid
from pathlib import Path
from typing import Any

from flowtrail.integrations.snakemake import workflow as wf

logger = logging.getLogger("flowtrail")


def job_run_uid(invocation: str, jobid: int) -> str:
    """The run uid of job ``jobid`` of the Snakemake invocation ``invocation`` (both sides agree)."""
    return str(uuid.uuid5(uuid.UUID(invocation), f"job/{jobid}"))


class JobEnvironment:
    """What the main process knows to name each job's run (instance, workflow run, invocation)."""

    def __init__(self, invocation: str, instance: str | None) -> None:
        self.invocation = invocation
        self.instance = instance
        self.workflow_id: str | None = None  # Snakemake's workflow id, once workflow_started was logged
        self._named: tuple[str, Path | None] | None = None  # (namespace, instance root)
        self._local = threading.local()

    def _instance_naming(self, basedir: str | None) -> tuple[str, Path | None] | None:
        if self._named is None:
            from flowtrail.core import adapter
            from flowtrail.core.errors import FlowtrailError

            try:
                config = adapter.find_config(self.instance, [Path.cwd(), basedir])
            except FlowtrailError:
                return None  # no instance: the recorder reports it; jobs run unchanged
            namespace = os.environ.get("FLOWTRAIL_OPENLINEAGE_NAMESPACE") or adapter.instance_name(config)
            self._named = (namespace, config.root)
        return self._named

    def variables(self, job: Any) -> dict[str, str]:
        """The variables of ``job``'s processes; empty when they cannot be named."""
        from flowtrail.core.adapter import RunRef, child_environment

        workflow = job.rule.workflow
        named = self._instance_naming(getattr(workflow, "basedir", None))
        if named is None:
            return {}
        namespace, root = named
        workflow_key = wf.workflow_key(workflow.main_snakefile, getattr(workflow, "basedir", None), root)
        parent = RunRef(namespace, wf.rule_key(workflow_key, job.rule.name), job_run_uid(self.invocation, job.jobid))
        top = RunRef(namespace, workflow_key, self.workflow_id) if self.workflow_id else None
        return child_environment(parent, top)

    # -- the executor thread's job --------------------------------------------------------------
    def current(self) -> dict[str, str] | None:
        return getattr(self._local, "variables", None)

    def run_as(self, job: Any, function: Any, *args: Any) -> Any:
        try:
            self._local.variables = self.variables(job)
        except Exception:  # naming the job must never stop it
            logger.debug("flowtrail: could not name the run of job %s", getattr(job, "jobid", "?"), exc_info=True)
            self._local.variables = None
        try:
            return function(*args)
        finally:
            self._local.variables = None


def _with_job_env(context: JobEnvironment, kwargs: dict[str, Any]) -> dict[str, Any]:
    variables = context.current()
    if variables:
        kwargs["env"] = {**(kwargs.get("env") or os.environ), **variables}
    return kwargs


def _subprocess_for_jobs(context: JobEnvironment) -> types.ModuleType:
    """``subprocess`` as Snakemake's shell and local executor use it, adding the job's variables."""
    module = types.ModuleType("subprocess")
    module.__dict__.update(subprocess.__dict__)

    class Popen(subprocess.Popen):  # type: ignore[type-arg]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **_with_job_env(context, kwargs))

    def check_call(*args: Any, **kwargs: Any) -> int:
        return subprocess.check_call(*args, **_with_job_env(context, kwargs))

    module.Popen = Popen  # type: ignore[attr-defined]
    module.check_call = check_call  # type: ignore[attr-defined]
    return module


_installed: JobEnvironment | None = None


def install(invocation: str, instance: str | None) -> JobEnvironment | None:
    """Give every local job's processes its run in their environment (once per process)."""
    global _installed
    if _installed is not None:
        _installed.invocation, _installed.instance, _installed.workflow_id = invocation, instance, None
        return _installed
    try:
        import importlib

        shell_module = importlib.import_module("snakemake.shell")  # the module, not the class it exports
        local = importlib.import_module("snakemake.executors.local")

        original = local.Executor.cached_or_run
        if not hasattr(shell_module, "sp") or not hasattr(local, "subprocess"):
            return None
    except (ImportError, AttributeError):
        return None
    context = JobEnvironment(invocation, instance)

    def cached_or_run(self: Any, job: Any, run_func: Any, *args: Any) -> Any:
        return context.run_as(job, original, self, job, run_func, *args)

    local.Executor.cached_or_run = cached_or_run
    proxy = _subprocess_for_jobs(context)
    shell_module.sp = proxy
    local.subprocess = proxy
    _installed = context
    return context
