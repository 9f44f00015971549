"""The background writer: registry writes for task runs, batched and off the tasks' critical path.

Hooks append ``("start", record)`` and ``("finish", record)`` to a deque (well under a
microsecond, without waking any thread) and return. One daemon thread per process writes what
accumulated, every ``BATCH_WINDOW`` seconds (2 s; ``FLOWTRAIL_PREFECT_BATCH_WINDOW``), at a flow's
end, or at once when a task returned an object that must be serialised. The window is long on
purpose: every SQL statement releases and re-takes the GIL, and while a flow of short tasks runs,
each re-take can stall the flow's thread for a switch interval. A flow shorter than the window
has its task runs written at its end, while its thread waits anyway.

A batch takes a handful of transactions instead of two per task run:

1. insert the new runs and update the finished ones (a task run that started and finished within
   the window is inserted once, already final: one multi-row INSERT);
2. register the batch's input and output artifacts with one ``flowtrail.save`` call (files are
   hashed once per content version: a per-process cache keyed by path, size and mtime reuses the
   artifact of a file seen before);
3. link inputs (path inputs and upstream objects through Prefect's task-input links) in one
   transaction;
4. tell the run listeners (OpenLineage emission) about each start and finish.

Flow-level work (starting and finishing the flow run) goes through :meth:`Writer.call`, executed
in queue order, so a flow's final record is written after all of its task runs: that is the
flush at the flow's end. The writer owns every registry object it creates (one SQLAlchemy session,
in its own thread). Errors are logged once per kind and never reach the flow.

This module holds the queue and the thread; the writing is done by the parts :class:`Writer` is
made of, each handed the others it uses: :class:`.task_run_rows.TaskRunRows` (step 1),
:class:`.task_run_artifacts.TaskRunArtifacts` (steps 2 and 3), :class:`.flow_run_rows.FlowRunRows`
(flow runs) and :class:`.registry_lookups.RegistryLookups` (the door's writers per registry);
failures are reported once per kind by the door's :class:`~flowtrail.core.adapter.Recording`.
Every write goes through the door, :mod:`flowtrail.core.adapter`.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flowtrail.integrations.prefect.flow_run_rows import FlowRunRows
from flowtrail.integrations.prefect.records import TaskRecord
from flowtrail.integrations.prefect.registry_lookups import RegistryLookups
from flowtrail.integrations.prefect.task_run_artifacts import TaskRunArtifacts
from flowtrail.integrations.prefect.task_run_rows import TaskRunRows

logger = logging.getLogger("flowtrail")

BATCH_WINDOW = float(os.environ.get("FLOWTRAIL_PREFECT_BATCH_WINDOW", "2"))
MAX_BATCH = 2000
CALL_TIMEOUT = 300.0
EXIT_FLUSH_TIMEOUT = 30.0
THREAD_NAME = "flowtrail-prefect-writer"


@dataclass
class _Call:
    fn: Callable[[], Any]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class Writer:
    """One per process; started on first use (and again in a forked child).

    Hooks append to a deque without waking the thread (a wake-up per task run would cost a
    thread switch in the task's path); the thread wakes when work arrives after it went idle,
    when an urgent operation (:meth:`call`, :meth:`flush`) comes in, or after ``window`` seconds.

    The writing is done by its parts (built by :meth:`_build_parts`): ``task_runs`` (run rows),
    ``artifacts`` (artifacts and input links), ``flow_runs`` (flow runs), over ``lookups``.
    """

    def __init__(self, window: float = BATCH_WINDOW) -> None:
        self.window = window
        self._items: collections.deque[Any] = collections.deque()
        self._wake = threading.Event()
        self._idle = False
        self._urgent = 0  # calls queued and not yet run
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._atexit = False
        from flowtrail.core.adapter.report import Recording  # the registry's modules load on first use

        # Failures are logged once per kind (a flow of many tasks must not log one per task). A
        # failed batch is not retried, but the next one is tried: a locked registry passes.
        self.recording = Recording("Prefect")
        self.report = self.recording.once
        self._build_parts()

    def _build_parts(self) -> None:
        """The writing parts, each handed the others it uses (fresh in a forked child)."""
        self.pending_objects: set[str] = set()  # task run uids whose returned objects are not written yet
        self.lookups = RegistryLookups()
        self.artifacts = TaskRunArtifacts(self.lookups, self.report)
        self.task_runs = TaskRunRows(self.lookups, self.artifacts, self.report, self.pending_objects)
        self.flow_runs = FlowRunRows(self.lookups, self.artifacts)

    # -- called from hooks ------------------------------------------------------------------------
    def put(self, kind: str, record: TaskRecord) -> None:
        if self._thread is None or self._pid != os.getpid():
            self._start()
        self._items.append((kind, record))
        if self._idle:  # only the first item after a quiet spell wakes the thread
            self._idle = False
            self._wake.set()

    def nudge(self) -> None:
        """End the current batch window early (returned objects are waiting to be written)."""
        self._wake.set()

    def call(self, fn: Callable[[], Any], timeout: float = CALL_TIMEOUT) -> Any:
        """Run ``fn`` in the writer thread after everything queued before it; wait for its result."""
        if self._thread is None or self._pid != os.getpid():
            self._start()
        op = _Call(fn)
        with self._lock:
            self._urgent += 1
        self._items.append(op)
        self._wake.set()
        if not op.done.wait(timeout):
            raise TimeoutError(f"the flowtrail registry did not answer within {timeout:g} s")
        if op.error is not None:
            raise op.error
        return op.result

    def flush(self, timeout: float = CALL_TIMEOUT) -> bool:
        """Wait until everything queued so far is written; False on timeout."""
        if self._thread is None or self._pid != os.getpid():
            return True
        try:
            self.call(lambda: None, timeout)
        except TimeoutError:
            return False
        except Exception:
            return True
        return True

    # -- the thread ------------------------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._pid == os.getpid():
                return
            if self._pid != os.getpid():  # a forked child: the parent's queue and thread are not ours
                self._items = collections.deque()
                self._wake = threading.Event()
                self._idle = False
                self._urgent = 0
                self._build_parts()
                self._pid = os.getpid()
            thread = threading.Thread(target=self._loop, name=THREAD_NAME, daemon=True)
            thread.start()
            self._thread = thread
            if not self._atexit:
                self._atexit = True
                atexit.register(self._exit)

    def _exit(self) -> None:
        if not self.flush(EXIT_FLUSH_TIMEOUT):
            logger.warning("flowtrail: Prefect task runs still queued after %g s at exit were not recorded.",
                           EXIT_FLUSH_TIMEOUT)  # fmt: skip

    def _loop(self) -> None:
        items, wake = self._items, self._wake
        while True:
            if not items:
                self._idle = True
                if not items:  # re-checked after announcing idleness: no wake-up is lost
                    wake.wait()
                self._idle = False
                wake.clear()
            if not self._urgent:  # collect for a window, unless a call is waiting or arrives
                wake.wait(self.window)
                wake.clear()
            batch = []
            while items and len(batch) < MAX_BATCH:
                batch.append(items.popleft())
            try:
                self._process(batch)
            except Exception as exc:  # never let the thread die
                self.report(type(exc).__name__, f"could not record Prefect runs: {exc}")

    def _process(self, batch: list[Any]) -> None:
        group: list[tuple[str, TaskRecord]] = []
        for item in batch:
            if isinstance(item, _Call):
                if group:
                    self.task_runs.write_group(group)
                    group = []
                try:
                    item.result = item.fn()
                except BaseException as exc:
                    item.error = exc
                finally:
                    with self._lock:
                        self._urgent -= 1
                    item.done.set()
            else:
                group.append(item)
        if group:
            self.task_runs.write_group(group)


_writer: Writer | None = None
_writer_lock = threading.Lock()


def get_writer() -> Writer:
    global _writer
    if _writer is None:
        with _writer_lock:
            if _writer is None:
                _writer = Writer()
    return _writer
