"""``pipe()`` (and ``service()``) outputs: a stream between two jobs, recorded as a node of its own.

A pipe is a FIFO that exists only while its producer and consumer run, together, as a group:
there are no bytes to hash and nothing is left afterwards. Without a node for it the two jobs
would not be connected, and ``upstream()`` of the consumer's outputs would stop at the consumer.
So each stream becomes an artifact of kind ``stream`` at the pipe's path (key = that path, as
for files), without content (``hash`` and ``size`` unknown): an output of the producing job's run
and an input of the consuming job's run, so lineage walks cross it like any file. A stream made
again later (another invocation, a rerun) is a new version of the same key.

Snakemake logs the pipe flag on the producer's output only, and the two jobs of a group may be
logged in either order: a consumer's input is a stream when a producer's output named it in this
invocation, when the path is a FIFO when looked at, or when a producer logged later names it (the
consumer's run, waiting for it, is then linked to the new node).
"""

import os
import stat
from typing import Any

from flowtrail.core import adapter
from flowtrail.integrations.snakemake import paths

KIND = "stream"
DESCRIPTION = "A Snakemake pipe(): a stream between two jobs, not a file (no bytes, no hash)"


def stream_refs(entries: object) -> list[paths.FileRef]:
    """The entries of a logged list that are pipes or services (those :func:`paths.parse_all` drops)."""
    if isinstance(entries, str):
        entries = [entries]
    if not isinstance(entries, list | tuple):
        return []
    refs = [paths.parse(entry) for entry in entries]
    return [ref for ref in refs if ref is not None and ref.is_stream and not ref.is_url]


def is_fifo(location: str) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(location).st_mode)
    except OSError:
        return False


class StreamNodes:
    """The stream artifacts of one invocation: made at the producer's or consumer's ``job_info``."""

    def __init__(self) -> None:
        self.instance: Any = None
        self._nodes: dict[str, Any] = {}  # location -> its stream artifact (latest in this invocation)
        self._produced: set[str] = set()  # locations whose node has its producer
        self._waiting: dict[str, list[Any]] = {}  # missing input location -> runs that read it

    def outputs(self, run: Any, refs: list[paths.FileRef], cwd: str, root_of: Any) -> None:
        """Make (or complete) the stream node of each pipe output, produced by ``run``."""
        for ref in refs:
            location = ref.location(cwd)
            node = self._nodes.get(location)
            if node is not None and location not in self._produced:
                self._set_producer(node, run)  # its consumer was logged first
            else:
                root = root_of(location)
                if root is None:
                    continue
                node = self._nodes[location] = self._new_node(root, location, run)
            self._produced.add(location)
            readers = self._waiting.pop(location, [])
            if node is not None and readers:
                for reader in readers:  # consumers logged before their producer
                    adapter.link_inputs(self.instance, reader, [node])

    def expect(self, run: Any, entries: object, cwd: str) -> None:
        """Remember ``run``'s inputs that do not exist (yet): a producer logged later may name them as pipes."""
        for ref in [r for r in (paths.parse(e) for e in _as_list(entries)) if r is not None and not r.is_url]:
            location = ref.location(cwd)
            if location not in self._nodes and not os.path.lexists(location):
                self._waiting.setdefault(location, []).append(run)

    def inputs(self, entries: object, cwd: str, root_of: Any) -> list[Any]:
        """The stream nodes a job reads: pipes named by a producer here, or FIFOs on disk."""
        found = []
        for ref in [r for r in (paths.parse(e) for e in _as_list(entries)) if r is not None and not r.is_url]:
            location = ref.location(cwd)
            node = self._nodes.get(location)
            if node is None and (ref.is_stream or is_fifo(location)):
                root = root_of(location)
                if root is None:
                    continue
                node = self._nodes[location] = self._new_node(root, location, None)
            if node is not None:
                found.append(node)
        return found

    def _new_node(self, root: str, location: str, run: Any) -> Any:
        return adapter.add_node(self.instance, root, location, kind=KIND, description=DESCRIPTION, run=run)

    def _set_producer(self, node: Any, run: Any) -> None:
        adapter.set_producer(self.instance, node, run)


def _as_list(entries: object) -> list[Any]:
    if isinstance(entries, str):
        return [entries]
    return list(entries) if isinstance(entries, list | tuple) else []
