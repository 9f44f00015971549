"""Holding on to a finished job's outputs until the recorder has read them (``temp()`` files).

Snakemake removes a ``temp()`` output as soon as its last consumer has finished. The recorder
runs behind Snakemake (another process, at a lower priority), so on a busy machine the file may
be gone before the recorder hashes it, and both of its edges (producer and consumer) would be lost.

:class:`OutputHolder` is a :class:`logging.Filter` on Snakemake's own logger, so it runs in the
thread that logs ``job_finished``, before Snakemake goes on to remove anything: there it gives
each of the job's local output files a second name, a hard link in a holding folder
(``.snakemake/flowtrail/held/`` of the working directory); a ``directory()`` output of at most
:data:`MAX_TREE_FILES` files is mirrored as a tree of hard links. A hard link costs one system call and
no copy; it keeps the bytes readable after Snakemake removed the output's own name. The event
carries ``{output: held link}`` (under ``--quiet progress``, where Snakemake logs no
``job_finished``, the ``job_info`` of the first job reading an output carries its producer's
links instead); the recorder registers an output that has vanished from its held
link (:mod:`.artifacts`) and removes each link once the job is recorded. Outputs it cannot link
(another file system, a larger folder) are recorded as before while they exist.

Snakemake logs no flag saying which outputs are ``temp()``, so every output file is held: one
``link()`` per file and job.
"""

import itertools
import logging
import os
import shutil
import stat
from typing import Any

from flowtrail.integrations.snakemake import events as ev
from flowtrail.integrations.snakemake import paths

HELD_DIR = os.path.join(".snakemake", "flowtrail", "held")
HELD_FIELD = "flowtrail_held"  # the LogRecord attribute (and event data key) naming the held links


class OutputHolder(logging.Filter):
    """Hard-links each finished job's output files before Snakemake may remove them (see module docs)."""

    def __init__(self, finished_logged: bool = True) -> None:
        super().__init__("flowtrail-output-holder")
        self.finished_logged = finished_logged  # False under --quiet progress: hold at the consumer
        self._outputs: dict[int, tuple[str, list[str]]] = {}  # jobid -> (cwd, output locations)
        self._producers: dict[str, int] = {}  # output location -> jobid, while its job is open
        self._serial = itertools.count()
        self._folders: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            kind = getattr(record, "event", None)
            kind = str(getattr(kind, "value", kind)) if kind is not None else None
            if kind == ev.JOB_INFO:
                held = self._hold_inputs(record) if not self.finished_logged else {}
                if held:
                    setattr(record, HELD_FIELD, held)
                self._remember(record)
            elif kind == ev.JOB_FINISHED:
                held = self._hold(getattr(record, "job_id", None))
                if held:
                    setattr(record, HELD_FIELD, held)
            elif kind == ev.JOB_ERROR:
                entry = self._outputs.pop(getattr(record, "jobid", None), None)  # type: ignore[arg-type]
                for location in entry[1] if entry else []:
                    self._producers.pop(location, None)
        except Exception:  # never in Snakemake's way
            pass
        return True

    def _remember(self, record: logging.LogRecord) -> None:
        jobid = getattr(record, "jobid", None)
        if not isinstance(jobid, int):
            return
        cwd = os.getcwd()
        refs = [ref for ref in paths.parse_all(getattr(record, "output", None)) if not ref.is_url]
        if refs:
            self._outputs[jobid] = (cwd, [ref.location(cwd) for ref in refs])
            for ref in refs:
                self._producers[ref.location(cwd)] = jobid

    def _hold_inputs(self, record: logging.LogRecord) -> dict[str, str]:
        """Hold the outputs of open jobs this job reads: they are finished, although (under ``--quiet
        progress``) Snakemake logged no ``job_finished`` for them."""
        cwd = os.getcwd()
        held: dict[str, str] = {}
        for ref in paths.parse_all(getattr(record, "input", None)):
            location = ref.location(cwd)
            jobid = self._producers.get(location) if not ref.is_url else None
            # Jobs of a group are all logged before any of them runs: not written yet, not finished.
            if jobid is not None and os.path.exists(location):
                held.update(self._hold(jobid))
        return held

    def _hold(self, jobid: Any) -> dict[str, str]:
        entry = self._outputs.pop(jobid, None) if isinstance(jobid, int) else None
        if entry is None:
            return {}
        cwd, locations = entry
        held: dict[str, str] = {}
        for location in locations:
            self._producers.pop(location, None)
            try:
                mode = os.stat(location).st_mode
                if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                    continue  # pipes and sockets are not files
                folder = os.path.join(cwd, HELD_DIR, str(os.getpid()))
                if folder not in self._folders:
                    os.makedirs(folder, exist_ok=True)
                    self._folders.add(folder)
                # The output's own name last, so the link has the output's suffix.
                link = os.path.join(folder, f"{next(self._serial)}-{os.path.basename(location)}")
                if stat.S_ISDIR(mode):
                    if not _link_tree(location, link):
                        continue
                else:
                    os.link(os.path.realpath(location), link)
            except OSError:  # another file system, no permission: recorded while it exists
                continue
            held[location] = link
        return held

    def folders(self) -> set[str]:
        """The holding folder(s) this Snakemake process made (removed at the end, with whatever is left)."""
        return set(self._folders)


MAX_TREE_FILES = 1000  # a directory() output with more files is not held (one link() per file)


def _link_tree(folder: str, target: str) -> bool:
    """Mirror ``folder`` as hard links below ``target``; False (and nothing left) for large trees."""
    files = []
    for dirpath, _dirs, names in os.walk(folder):
        files.extend(os.path.join(dirpath, name) for name in names)
        if len(files) > MAX_TREE_FILES:
            return False
    try:
        for path in files:
            copy = os.path.join(target, os.path.relpath(path, folder))
            os.makedirs(os.path.dirname(copy), exist_ok=True)
            if os.path.islink(path) and not os.path.exists(path):
                os.symlink(os.readlink(path), copy)  # a link that leads nowhere stays one
            else:
                os.link(os.path.realpath(path), copy)
    except OSError:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return True


def release(held: dict[str, str]) -> None:
    """Remove held links (and held folder trees) once the job's outputs are recorded."""
    for link in held.values():
        try:
            if os.path.isdir(link) and not os.path.islink(link):
                shutil.rmtree(link)
            else:
                os.unlink(link)
        except OSError:
            pass


def remove_folders(folders: set[str]) -> None:
    """Remove whatever holding folders are left (a recorder that stopped early)."""
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
