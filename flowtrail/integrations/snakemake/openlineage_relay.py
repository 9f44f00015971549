"""Forwarding the runs' OpenLineage events, with a job's START held until its inputs are linked.

The instance's emitter listens to run starts and ends. The recorder puts an
:class:`OpenLineageRelay` in its place: while a job's run is being started, its START is held,
and it goes out once the run's inputs are linked, so the event names them. Every other event is
passed on as it comes.
"""

import threading
from typing import Any


class OpenLineageRelay:
    """Stands in for the emitter as run listener; holds a job's START (see the module docstring)."""

    def __init__(self) -> None:
        self.emitter: Any = None  # the instance's emitter while hooked, else None
        self._holding: threading.Thread | None = None
        self._held: Any = None

    def hook(self, emitter: Any) -> None:
        from flowtrail.core.tracking import add_run_listener, remove_run_listener

        self.emitter = emitter
        remove_run_listener(emitter.on_run)
        add_run_listener(self._forward)

    def unhook(self) -> None:
        if self.emitter is None:
            return
        from flowtrail.core.tracking import add_run_listener, remove_run_listener

        remove_run_listener(self._forward)
        add_run_listener(self.emitter.on_run)
        self.emitter = None

    def hold_start(self) -> None:
        """Hold the START of the run this thread starts next (until :meth:`release_start`)."""
        self._holding, self._held = threading.current_thread(), None

    def stop_holding(self) -> None:
        self._holding = None

    def _forward(self, event: str, run: Any) -> None:
        if event == "start" and self._holding is threading.current_thread():
            self._held = run  # released by release_start() after the inputs are linked
            return
        if self.emitter is not None:
            self.emitter.on_run(event, run)

    def release_start(self) -> None:
        run, self._held = self._held, None
        if run is not None and self.emitter is not None:
            self.emitter.on_run("start", run)
