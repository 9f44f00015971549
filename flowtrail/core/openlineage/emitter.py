"""Sending events without ever slowing down or failing the user's run.

A run listener only puts ``(run id, state)`` on a bounded queue: microseconds in the caller. A
daemon thread builds each event from the registry (in its own session) and hands it to the
OpenLineage client. Errors are logged once per kind, never raised; when the queue is full events
are dropped with one warning; at exit the queue is flushed for at most ``flush_timeout`` seconds,
so a dead endpoint cannot hang the process.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from typing import TYPE_CHECKING, Any

from flowtrail.core.models.run import Run
from flowtrail.core.runs.script import finish_open_run
from flowtrail.core.runs.tracking import add_run_listener, remove_run_listener

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance
    from flowtrail.core.models.run import Run

logger = logging.getLogger("flowtrail")
QUEUE_SIZE = 10_000
FLUSH_TIMEOUT_S = float(os.environ.get("FLOWTRAIL_OPENLINEAGE_FLUSH_TIMEOUT", "5"))
_STOP = object()


def namespace_of(instance: Instance) -> str:
    """The job namespace: ``FLOWTRAIL_OPENLINEAGE_NAMESPACE``, else the instance's name."""
    return os.environ.get("FLOWTRAIL_OPENLINEAGE_NAMESPACE") or instance.name


class Emitter:
    """Background OpenLineage emission for one instance."""

    def __init__(self, instance: Instance, client: Any = None, queue_size: int = QUEUE_SIZE) -> None:
        if client is None:
            from openlineage.client import OpenLineageClient

            client = OpenLineageClient()
        self.instance = instance
        self.client = client
        self.namespace = namespace_of(instance)
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._reported: set[str] = set()
        self._pending = 0
        self._idle = threading.Condition()
        self._thread = threading.Thread(target=self._work, name="flowtrail-openlineage", daemon=True)
        self._thread.start()
        self._closed = False
        atexit.register(self._close_at_exit)

    # -- called from the user's threads ---------------------------------------------------------
    def on_run(self, event: str, run: Run) -> None:
        """Run listener: queue the run's new state for emission."""
        state = "START" if event == "start" else run.status
        try:
            with self._idle:
                self._pending += 1
            self._queue.put_nowait((run.id, state))
        except queue.Full:
            with self._idle:
                self._pending -= 1
            self._report_once("full", "OpenLineage queue is full (the endpoint is too slow); dropping events.")

    def flush(self, timeout: float = FLUSH_TIMEOUT_S) -> bool:
        """Wait until every queued event was handed to the client; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def close(self, timeout: float = FLUSH_TIMEOUT_S) -> None:
        """Flush (bounded by ``timeout``) and stop the worker; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if not self.flush(timeout):
            self._report_once("timeout", f"OpenLineage events still queued after {timeout:g} s at exit were dropped.")
        try:
            self._queue.put_nowait(_STOP)
        except queue.Full:
            pass
        try:
            close = getattr(self.client, "close", None)
            if close is not None:
                close(timeout)
        except Exception:
            pass
        atexit.unregister(self._close_at_exit)

    def _close_at_exit(self) -> None:
        # Exit handlers run last-in-first-out, and this one is usually registered after the
        # script's own (track() connects the instance): end the script's run first, so its
        # terminal event is queued before the queue is flushed and closed.

        finish_open_run()
        self.close()

    # -- the worker thread ----------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                self._emit(*item)
            except Exception as exc:  # never let one bad event stop the worker
                self._report_once(type(exc).__name__, f"could not emit an OpenLineage event: {exc}")
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _emit(self, run_id: int, state: str) -> None:
        from openlineage.client.event_v2 import RunState

        from flowtrail.core.openlineage.events import STATE_OF_STATUS, run_event

        sessions = self.instance.sessions
        session = sessions.current()
        try:
            session.expire_all()  # this thread's session only: read the run as committed now
            run = session.get(Run, run_id)
            if run is None:
                return
            event = run_event(run, RunState.START if state == "START" else STATE_OF_STATUS[state], self.namespace)
        finally:
            sessions.end_read()
        self.client.emit(event)

    def _report_once(self, kind: str, message: str) -> None:
        if kind not in self._reported:
            self._reported.add(kind)
            logger.warning("%s (further such errors are not shown)", message)


def attach(instance: Instance) -> Emitter | None:
    """Start emitting for ``instance`` when OpenLineage is configured; None otherwise."""
    from flowtrail.core.openlineage.config import is_configured

    if not is_configured():
        return None
    try:
        emitter = Emitter(instance)
    except Exception as exc:  # a broken openlineage.yml must not break the user's script
        logger.warning("OpenLineage is configured but the client could not start: %s. No events are sent.", exc)
        return None

    add_run_listener(emitter.on_run)
    return emitter


def detach(emitter: Emitter) -> None:
    remove_run_listener(emitter.on_run)
    emitter.close()
