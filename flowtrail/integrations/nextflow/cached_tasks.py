"""Linking cached tasks to the run that first made their outputs.

On ``-resume`` Nextflow reuses a task's outputs instead of running it again. Its task run is
recorded as ``cached``; the outputs (and copies published from them) stay outputs of the earlier
completed run with the same full task hash, whose uid goes into the metrics as
``cached_from_run``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowtrail.integrations.nextflow.session_state import ENGINE

if TYPE_CHECKING:
    from flowtrail.core.adapter import Instance
    from flowtrail.core.models import Run


class CachedTasks:
    """Finds (once per task hash) the run a cached task reuses."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self._original_runs: dict[str, Run | None] = {}

    def original_run(self, full_hash: str, exclude: Run | None) -> Run | None:
        """The run that first executed a task hash (what a cached task reuses), other than ``exclude``."""
        if full_hash not in self._original_runs:
            from flowtrail.core.models import Run  # SQLAlchemy: not before Nextflow is started (see runner)

            runs = Run.objects(self.instance).filter(
                reference__startswith=f"{full_hash} ", status="completed", engine=ENGINE
            )
            self._original_runs[full_hash] = runs.order_by("id").first()
        found = self._original_runs[full_hash]
        return found if found is not None and (exclude is None or found.id != exclude.id) else None
