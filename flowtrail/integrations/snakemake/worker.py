"""The recorder process: reads Snakemake's events from stdin and records them (see :mod:`.channel`).

Started by the plugin as ``python -c ... '<options as JSON>'``; each event arrives as a 4-byte
big-endian length and a pickled :class:`~.events.Event`, the stop marker as the bytes ``STOP``.
End of input without the marker means Snakemake went away (killed): the open runs are aborted.
Events are taken in batches (what arrives within :data:`~.channel.BATCH_WINDOW_S` of the first),
so that many jobs share each transaction.
The process runs at niceness 10, so on a busy machine the workflow's jobs get the CPU first and
the recorder catches up while they wait (at worst Snakemake waits for it a little at exit).
With ``FLOWTRAIL_SNAKEMAKE_STATS=FILE`` both processes append their cost figures to ``FILE``
(recorder CPU seconds; Snakemake's time spent starting the recorder and waiting for it at exit),
which ``benchmarks/snakemake_overhead.py`` reports.
"""

import json
import logging
import os
import pickle
import queue
import signal
import sys
import threading
import time
from typing import BinaryIO

from flowtrail.integrations.snakemake.channel import HEADER, STOP, take_batch, write_stats
from flowtrail.integrations.snakemake.events import JOB_INFO
from flowtrail.integrations.snakemake.options import Options
from flowtrail.integrations.snakemake.recorder import Recorder, quiet_logging

NICENESS = 10


def read_frames(stream: BinaryIO):  # type: ignore[no-untyped-def]
    """Yield each frame's payload; stops at end of input (a truncated frame counts as the end)."""
    while True:
        header = stream.read(HEADER.size)
        if len(header) < HEADER.size:
            return
        (length,) = HEADER.unpack(header)
        payload = stream.read(length)
        if len(payload) < length:
            return
        yield payload


def _lower_priority() -> None:
    """Yield the CPU to the workflow's own jobs: recording can catch up when they wait."""
    try:
        os.nice(NICENESS)
    except (AttributeError, OSError):  # not on this platform, or not allowed
        pass


def _preload() -> None:
    """Import the registry code now, while Snakemake builds its DAG, not at the first job."""
    try:

        import flowtrail.core.adapter.connection
        import flowtrail.core.adapter.files
        import flowtrail.core.adapter.nodes
        import flowtrail.core.adapter.runs
        import flowtrail.core.models  # noqa: F401
    except Exception:  # the recorder reports problems when it first needs the registry
        pass


def main(argv: list[str] | None = None) -> None:
    # Ctrl-C in a terminal signals the whole process group; Snakemake handles it and then closes
    # the channel, after logging the interrupted jobs this process still has to record.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A hung database must cost seconds at Snakemake's exit, not minutes: after these bounds the
    # recorder journals the workflow instead (unless the user set other bounds).
    os.environ.setdefault("FLOWTRAIL_DB_TIMEOUT", "15")
    os.environ.setdefault("FLOWTRAIL_DB_CONNECT_TIMEOUT", "5")
    _lower_priority()
    quiet_logging()
    # Import the registry code while Snakemake builds its DAG; a command that runs no job
    # (--list, --summary, ... with the logger set in a profile) ends without waiting for it.
    threading.Thread(target=_preload, name="flowtrail-snakemake-preload", daemon=True).start()
    args = sys.argv[1:] if argv is None else argv
    options = Options(**json.loads(args[0])) if args else Options()
    recorder = Recorder(options)
    frames: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()

    def read() -> None:  # a reader thread, so the recorder sees everything that has arrived
        for payload in read_frames(sys.stdin.buffer):
            frames.put(payload)
        frames.put(None)

    threading.Thread(target=read, name="flowtrail-snakemake-reader", daemon=True).start()
    stopped = ended = False
    received = jobs = batches = 0
    recording_cpu = 0.0  # CPU of this thread inside the recorder: the per-job cost, without start-up
    while not (stopped or ended):
        batch = take_batch(frames, last=(None, STOP))
        events = []
        for payload in batch:
            if payload is None:
                ended = True
                break
            if payload == STOP:
                stopped = True
                break
            try:
                events.append(pickle.loads(payload))
            except Exception:  # never let one bad frame end the recording
                continue
        received += len(events)
        jobs += sum(1 for event in events if event.kind == JOB_INFO)
        batches += 1 if events else 0
        started = time.thread_time()
        recorder.handle_many(events)
        recording_cpu += time.thread_time() - started
    started = time.thread_time()
    recorder.finish(lost=not stopped)
    recorder.close()
    recording_cpu += time.thread_time() - started
    times = os.times()
    write_stats(
        {
            "process": "recorder", "cpu_s": times.user + times.system, "events": received,
            "jobs": jobs, "batches": batches, "recording_cpu_s": recording_cpu, "setup_cpu_s": recorder.setup_cpu,
        }
    )  # fmt: skip
    # Everything is committed and the OpenLineage client is closed: skip the interpreter's slow
    # teardown, since Snakemake waits for this process to exit.
    logging.shutdown()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
