"""Files published by Nextflow (``publishDir`` and workflow outputs), registered as task outputs.

They come from the log lines the runner turns on, or from the lineage store, and are registered
in place as outputs of the task run that made the file they copy (for a cached task: the run that
first made it), with the same content hash and the description "Published by Nextflow (copy)
from <work-dir key>". A copy waits until its task is registered; ``mode: 'symlink'`` and
``'rellink'`` publish a link to the work-dir file, which is the task's output artifact itself.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from flowtrail.core import adapter
from flowtrail.integrations.nextflow import _fs
from flowtrail.integrations.nextflow.artifacts import Wanted, task_hash_of

if TYPE_CHECKING:
    from flowtrail.integrations.nextflow.artifacts import ArtifactResolver
    from flowtrail.integrations.nextflow.cached_tasks import CachedTasks
    from flowtrail.integrations.nextflow.session_run import SessionRun
    from flowtrail.integrations.nextflow.session_state import SessionState, Task


class PublishedFiles:
    """Registers published copies once the task that made their source is registered."""

    def __init__(
        self,
        state: SessionState,
        session: SessionRun,
        resolver: ArtifactResolver,
        cached: CachedTasks,
        recording: adapter.Recording,
    ) -> None:
        self.state = state
        self.recording = recording
        self.session = session
        self.resolver = resolver
        self.cached = cached
        self._published: set[str] = set()

    @property
    def pending(self) -> bool:
        return bool(self.state.publishes)

    def _from_store(self) -> None:
        """Add what the lineage store says was published and the log did not."""
        store = self.state.store
        record = self.session.workflow_run_record()
        if store is None or record is None:
            return
        known = {item["dst"] for item in self.state.publishes} | self._published
        for path, source in store.published(record["_key"]):
            if path in known or source is None:
                continue
            src = self.state.lid_location(source) if "/" in source else None
            if src:
                self.state.publishes.append({"src": src, "dst": path, "mode": "LINEAGE"})

    def process(self, final: bool, finished_now: frozenset[str] = frozenset()) -> None:
        """Register the published files whose task is registered (at the end: all of them).

        Copies of tasks finished in this very poll (``finished_now``, short hashes) wait for the
        next one, at the end too (see :meth:`.recorder.Recorder.close`): the OpenLineage emitter
        builds a task's COMPLETE event from the registry in the background, and that event lists
        the task's work-dir outputs, not the copies.
        """
        if final:
            self._from_store()
        remaining = []
        ready: list[Wanted] = []
        for item in self.state.publishes:
            src, dst, mode = item["src"], item["dst"], item["mode"]
            if dst in self._published:
                continue
            full = task_hash_of(src)
            task = self.state.by_hash.get(full) if full else None
            if task is not None and ((not task.done and not final) or task.short in finished_now):
                remaining.append(item)
                continue
            if task is None and not final and full is not None:
                remaining.append(item)  # the task's trace row has not arrived yet
                continue
            self._published.add(dst)
            try:
                wanted = self._wanted(src, dst, mode, task, full)
            except Exception as exc:  # one odd file must not stop the others; a registry failure does
                if adapter.is_registry_error(exc):
                    raise
                self.recording.once("published", f"nextflow: could not register the published file {dst}: {exc!r}")
                continue
            if wanted is not None:
                ready.append(wanted)
        self.state.publishes = remaining
        self.resolver.resolve_many(ready)  # a file that cannot be read is left out (reported once)

    def _wanted(self, src: str, dst: str, mode: str, task: Task | None, full: str | None) -> Wanted | None:
        if not _fs.is_url(dst) and os.path.realpath(dst) == os.path.realpath(src):
            return None  # a symlink into the work dir: the same file, already the task's output
        producer = None
        if task is not None and task.run is not None:
            producer = task.run
            if task.cached and full:
                producer = self.cached.original_run(full, task.run) or task.run
        elif full:
            producer = self.cached.original_run(full, None)
        for root in self.state.info.publish_roots:
            if (dst + "/").startswith(root.rstrip("/") + "/") and not _fs.is_url(root):
                if not self.resolver.covered(os.path.realpath(dst)):
                    self.resolver.register_root(root)
                break
        source = self.resolver.cached(src)
        name = source.key if source is not None and source.key else src
        how = f" ({mode.lower()})" if mode and mode != "LINEAGE" else ""
        return Wanted(dst, producer, f"Published by Nextflow{how} from {name}", reuse_work_files=False)
