"""Files published by Nextflow (``publishDir`` and workflow outputs), registered as task outputs.

They come from the log lines the runner turns on, or from the lineage store, and are registered
in place as outputs of the task run that made the file they copy (for a cached task: the run that
first made it), with the same content hash and the description "Published by Nextflow (copy)
from <work-dir key>". A copy waits until its task is registered; ``mode: 'symlink'`` and
``'rellink'`` publish a link to the work-dir file, which is the task's output artifact itself.
"""

from __future__ import annotations

import logging
import os

from . import _fs
from .artifacts import task_hash_of
from .session_state import Task
from .task_runs import TaskRunRecorder

logger = logging.getLogger("flowtrail")


class PublishedFileRecorder(TaskRunRecorder):
    """Registers published copies once the task that made their source is registered."""

    # -- published files ------------------------------------------------------------------------
    def _published_from_store(self) -> None:
        record = self._workflow_run_record()
        if self.store is None or record is None:
            return
        known = {item["dst"] for item in self._publishes} | self._published
        for path, source in self.store.published(record["_key"]):
            if path in known or source is None:
                continue
            src = self._lid_location(source) if "/" in source else None
            if src:
                self._publishes.append({"src": src, "dst": path, "mode": "LINEAGE"})

    def _process_publishes(self, final: bool) -> None:
        if final:
            self._published_from_store()
        remaining = []
        for item in self._publishes:
            src, dst, mode = item["src"], item["dst"], item["mode"]
            if dst in self._published:
                continue
            full = task_hash_of(src)
            task = self.by_hash.get(full) if full else None
            if task is not None and not task.done and not final:
                remaining.append(item)
                continue
            if task is None and not final and full is not None:
                remaining.append(item)  # the task's trace row has not arrived yet
                continue
            self._published.add(dst)
            try:
                self._register_published(src, dst, mode, task, full)
            except Exception:
                logger.exception("nextflow: could not register the published file %s", dst)
        self._publishes = remaining

    def _register_published(self, src: str, dst: str, mode: str, task: Task | None, full: str | None) -> None:
        if not _fs.is_url(dst) and os.path.realpath(dst) == os.path.realpath(src):
            return  # a symlink into the work dir: the same file, already the task's output
        producer = None
        if task is not None and task.run is not None:
            producer = task.run
            if task.cached and full:
                producer = self._original_run(full, task.run) or task.run
        elif full:
            producer = self._original_run(full, None)
        for root in self.info.publish_roots:
            if (dst + "/").startswith(root.rstrip("/") + "/") and not _fs.is_url(root):
                if self.resolver.storage_for(os.path.realpath(dst)) is None:
                    self.resolver.register_root(root)
                break
        source = self.resolver.cached(src)
        name = source.key if source is not None and source.key else src
        how = f" ({mode.lower()})" if mode and mode != "LINEAGE" else ""
        description = f"Published by Nextflow{how} from {name}"
        self.resolver.resolve([dst], run=producer, description=description, reuse_work_files=False)
