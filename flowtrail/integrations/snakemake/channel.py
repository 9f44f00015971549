"""Getting events from Snakemake's process to the recorder without slowing Snakemake down.

The recorder runs in a **separate process** (:mod:`.worker`): hashing files and writing to the
registry cost a few milliseconds of CPU per job, and in a thread of Snakemake's own process that
work would compete with the scheduler for the GIL. The process starts with the logger, so that it
is ready when the first job starts; commands that execute nothing stop it at once
(:class:`GatedChannel`). In the
Snakemake process, ``put()`` only appends to a queue; a feeder thread pickles the events and
writes them to the worker's stdin. ``close()`` sends a stop marker and waits (bounded by the
flush timeout) for the worker to finish the workflow's runs.

- The worker ignores SIGINT, so Ctrl-C in a terminal (which signals the whole process group)
  leaves it running until Snakemake has logged the interrupted jobs and closed the channel.
- If Snakemake dies without closing (SIGKILL), the worker sees end-of-file without the stop
  marker and ends the open runs as aborted.
- If the worker cannot be started, or dies, recording falls back to a thread in Snakemake's
  process (:class:`ThreadChannel`) or stops with one warning: the workflow is never affected.
"""

import json
import logging
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from flowtrail.integrations.snakemake.events import JOB_INFO, WORKFLOW_STARTED, Event
from flowtrail.integrations.snakemake.options import Options
from flowtrail.integrations.snakemake.recorder import Recorder, quiet_logging, show_warnings
from flowtrail.integrations.snakemake.workflow import touches_only

logger = logging.getLogger("flowtrail.snakemake")
STOP = b"STOP"
HEADER = struct.Struct("!I")
STATS_ENV = "FLOWTRAIL_SNAKEMAKE_STATS"  # a file to append cost figures to (the overhead benchmark)
NOTICE_AFTER_S = 5.0  # say why Snakemake has not exited yet after this long
FORCE_THREAD_ENV = "FLOWTRAIL_SNAKEMAKE_IN_PROCESS"  # "1": record in a thread of Snakemake's process
_WORKER_CODE = """\
import sys
try:
    from flowtrail.integrations.snakemake.worker import main
except ImportError:
    sys.path.append({path!r})
    from flowtrail.integrations.snakemake.worker import main
main()
"""


class Channel(Protocol):
    def put(self, event: Event) -> None: ...
    def close(self) -> None: ...


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


def open_channel(options: Options) -> Channel:
    """The recorder process (or, when it cannot start, a recorder thread), behind a gate."""
    if os.environ.get(FORCE_THREAD_ENV) != "1":
        try:
            return GatedChannel(ProcessChannel(options))
        except Exception as exc:  # no interpreter to start, no fork allowed, ...
            show_warnings()
            logger.warning("could not start the recorder process (%s); recording in Snakemake's process.", exc)
    return GatedChannel(ThreadChannel(options))


MAX_BATCH = 500  # events recorded together at most
BATCH_WINDOW_S = float(os.environ.get("FLOWTRAIL_SNAKEMAKE_BATCH_S", "0.5"))


def take_batch(source: "queue.SimpleQueue[Any]", last: Any = (None,)) -> list[Any]:
    """The next events to record together: the first to arrive, and what follows within the batch window.

    Recording is cheapest per job when many jobs share a transaction (see :mod:`.recorder`), and
    nothing waits for the recorder: a job's run is recorded a fraction of a second later, while
    the engine goes on. Stops early at an item in ``last`` (the end of the input).
    """
    batch = [source.get()]
    deadline = time.monotonic() + BATCH_WINDOW_S
    while len(batch) < MAX_BATCH and batch[-1] not in last:
        try:
            batch.append(source.get(timeout=max(deadline - time.monotonic(), 0.0)))
        except queue.Empty:
            break
    return batch


def write_stats(figures: dict[str, Any]) -> None:
    """Append cost figures as a JSON line to the file named by ``FLOWTRAIL_SNAKEMAKE_STATS``, if set."""
    path = os.environ.get(STATS_ENV)
    if not path:
        return
    try:
        with open(path, "a") as handle:
            handle.write(json.dumps(figures) + "\n")
    except OSError:
        pass


class GatedChannel:
    """Forwards events once Snakemake executes a workflow; discards the recorder if it never does.

    The recorder starts with the logger, so that it has imported the registry code by the time the
    first job starts. With ``logger: [flowtrail]`` in a profile, every Snakemake command sets the
    logger up, also ``--list-rules``, ``--summary`` or ``--lint``, which execute nothing, and
    ``--touch``, which Snakemake logs like a real run: for those the recorder is stopped at once,
    without waiting for it.
    """

    def __init__(self, channel: "ProcessChannel | ThreadChannel") -> None:
        self.channel = channel
        self._active = False
        self._off = False

    def put(self, event: Event) -> None:
        if not self._active:
            if self._off or event.kind not in (WORKFLOW_STARTED, JOB_INFO):
                return
            if event.kind == WORKFLOW_STARTED and touches_only(event.data.get("cmd")):
                self._off = True  # --touch: nothing runs, so nothing is recorded
                return
            self._active = True
        self.channel.put(event)

    def close(self) -> None:
        if self._active:
            self.channel.close()
        else:
            self.channel.discard()


class ProcessChannel:
    """Feeds pickled events to a recorder process through its stdin."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._broken = False
        package_root = str(Path(__file__).resolve().parents[3])
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _WORKER_CODE.format(path=package_root), json.dumps(options.__dict__)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=None,  # the worker's warnings appear with Snakemake's output
            close_fds=True,
        )
        self._spawn_s = time.perf_counter() - started
        self._feeder = threading.Thread(target=self._feed, name="flowtrail-snakemake-feeder", daemon=True)
        self._feeder.start()

    def put(self, event: Event) -> None:
        if not self._closed:
            self._queue.put(event)

    def _feed(self) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        stop = False
        while not stop:
            items = [self._queue.get()]
            while True:  # write whatever else is queued in one go
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            chunks = []
            for item in items:
                if item is None:
                    stop = True
                    chunks.append(frame(STOP))
                    break
                chunks.append(frame(pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)))
            if self._broken:
                continue
            try:
                stdin.write(b"".join(chunks))
                stdin.flush()
            except (OSError, ValueError):  # the worker died: say so once, keep draining the queue
                self._broken = True
                self._report_dead()
        try:
            stdin.close()
        except (OSError, ValueError):
            pass

    def _report_dead(self) -> None:
        show_warnings()
        code = self.process.poll()
        logger.warning(
            "the recorder process ended unexpectedly (exit status %s); the rest of this "
            "workflow is not recorded. The workflow continues.",
            code,
        )

    def discard(self) -> None:
        """Stop the recorder without waiting: it has nothing to record."""
        self._closed = self._broken = True
        self._queue.put(None)
        try:
            self.process.kill()
            self.process.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            pass

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        started = time.perf_counter()
        self._queue.put(None)
        deadline = time.monotonic() + self.options.flush_timeout
        self._feeder.join(max(0.0, deadline - time.monotonic()))
        try:
            try:
                self.process.wait(min(NOTICE_AFTER_S, max(0.0, deadline - time.monotonic())))
            except subprocess.TimeoutExpired:
                show_warnings()
                logger.warning(
                    "still writing this workflow to the registry; waiting up to %.0f s more "
                    "(--logger-flowtrail-flush-timeout).",
                    max(0.0, deadline - time.monotonic()),
                )
                self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            show_warnings()
            logger.warning(
                "still recording after %g s (--logger-flowtrail-flush-timeout); the recorder "
                "(pid %d) finishes in the background.",
                self.options.flush_timeout, self.process.pid,
            )  # fmt: skip
        write_stats({"process": "snakemake", "spawn_s": self._spawn_s, "close_wait_s": time.perf_counter() - started})


class ThreadChannel:
    """The fallback: a daemon thread in Snakemake's process drives the recorder."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self._queue: queue.SimpleQueue[Event | None] = queue.SimpleQueue()
        self._closed = False
        quiet_logging()
        self.recorder = Recorder(options)
        self._thread = threading.Thread(target=self._work, name="flowtrail-snakemake", daemon=True)
        self._thread.start()

    def put(self, event: Event) -> None:
        if not self._closed:
            self._queue.put(event)

    def _work(self) -> None:
        while True:
            batch = take_batch(self._queue)
            events = [event for event in batch if event is not None]
            self.recorder.handle_many(events)
            if len(events) < len(batch):
                self.recorder.finish()
                self.recorder.close()
                return

    def discard(self) -> None:
        self.close()  # nothing was recorded: finishing is immediate

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join(self.options.flush_timeout)
        if self._thread.is_alive():
            show_warnings()
            logger.warning(
                "the registry did not take this workflow's last events within %g s "
                "(--logger-flowtrail-flush-timeout); runs still open stay 'started'.",
                self.options.flush_timeout,
            )
