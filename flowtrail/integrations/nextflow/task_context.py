"""Every task's processes learn their task's run: ``OPENLINEAGE_PARENT_ID`` in their environment.

A task's run uid is its full task hash read as a UUID (128 bits, the work dir's name). Nextflow's
task hash includes the session and the attempt, so each executed task has its own; cached tasks
never execute (their runs keep random uids). ``flowtrail nextflow run`` adds an ``env`` entry to
its config that the task wrapper expands in bash from the work dir (``$PWD`` there), so no process
needs Python; the recorder starts the task's run with the same uid once it sees the work dir.
"""

from __future__ import annotations

import uuid

# bash slices of the work dir ".../ab/cdef..." (2 + 30 hex digits) into 8-4-4-4-12
_UID_FROM_WORKDIR = "${PWD: -33:2}${PWD: -30:6}-${PWD: -24:4}-${PWD: -20:4}-${PWD: -16:4}-${PWD: -12:12}"


def task_run_uid(full_hash: str) -> str | None:
    """The run uid of the executed task whose full hash is ``full_hash`` (None if it is not one)."""
    try:
        return str(uuid.UUID(hex=full_hash))
    except ValueError:
        return None


def environment_config(namespace: str, job: str) -> str:
    """The config snippet that gives each task's processes ``OPENLINEAGE_PARENT_ID`` of its run."""
    value = f"{namespace}/{job}/{_UID_FROM_WORKDIR}".replace("\\", "\\\\").replace("'", "\\'")
    return (
        "// written by flowtrail nextflow run: each task's processes learn their task's run\n"
        "env {\n"
        f"    OPENLINEAGE_PARENT_ID = '{value}'\n"
        "}\n"
    )
