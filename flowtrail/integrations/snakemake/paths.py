"""File names as Snakemake logs them, turned into something the registry can register.

Snakemake writes ``input``/``output``/``log`` entries exactly as the Snakefile spells them
(relative to the effective working directory unless absolute), sometimes with annotations
appended (``"a.txt (pipe)"``, ``"s3://b/k (send to storage)"``), and ``"<TBD>"`` for files a
checkpoint has yet to decide. :func:`parse` strips the annotations and says whether the entry
names something that can be hashed: pipes and services are streams, not files.
"""

import os
import stat
from dataclasses import dataclass
from pathlib import Path

# Labels Snakemake appends in parentheses, possibly several joined by ", " (see snakemake.io.fmt).
_LABELS = {
    "pipe",
    "service",
    "nodelocal",
    "update",
    "before update",
    "cached",
    "retrieve from storage",
    "send to storage",
    "only provide storage uri",
    "in storage",
}
_STREAMS = {"pipe", "service"}
TBD = "<TBD>"


@dataclass(frozen=True)
class FileRef:
    """One logged file: the path or URL as written, and whether it can be registered."""

    name: str  # annotations stripped
    labels: frozenset[str]

    @property
    def is_url(self) -> bool:
        return "://" in self.name and not self.name.startswith("file://")

    @property
    def is_stream(self) -> bool:
        return bool(self.labels & _STREAMS)

    def location(self, workdir: str) -> str:
        """An absolute local path (resolved against ``workdir``) or the URL itself."""
        if self.is_url:
            return self.name
        name = self.name.removeprefix("file://")
        return os.path.normpath(os.path.join(workdir, os.path.expanduser(name)))


def _split_label(text: str) -> tuple[str, frozenset[str]] | None:
    if not text.endswith(")"):
        return None
    start = text.rfind(" (")
    if start < 0:
        return None
    parts = [part.strip() for part in text[start + 2 : -1].split(", ")]
    if not parts or not all(p in _LABELS or p.startswith("access: ") for p in parts):
        return None
    return text[:start], frozenset(parts)


def parse(entry: object) -> FileRef | None:
    """The file behind one logged entry, or None for placeholders (``<TBD>``) and empty entries."""
    if entry is None:
        return None
    text = str(entry)
    if not text or text == TBD:
        return None
    labels: frozenset[str] = frozenset()
    while (split := _split_label(text)) is not None:  # labels may stack: "x (pipe) (cached)"
        text, more = split
        labels |= more
    if not text or text == TBD:
        return None
    return FileRef(text, labels)


def parse_all(entries: object) -> list[FileRef]:
    """Every registrable entry of a logged list (a single string counts as a list of one)."""
    if entries is None:
        return []
    if isinstance(entries, str):
        entries = [entries]
    refs = []
    try:
        for entry in entries:  # type: ignore[attr-defined]
            ref = parse(entry)
            if ref is not None and not ref.is_stream:
                refs.append(ref)
    except TypeError:
        return []
    return refs


def local_state(path: str) -> tuple[int, int] | None:
    """``(size, mtime_ns)`` of a regular file or folder, None when missing or not registrable.

    FIFOs, sockets and devices are never opened: hashing a named pipe would block forever.
    """
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        return None
    return st.st_size, st.st_mtime_ns


def dead_links(folder: str) -> list[str]:
    """Links below ``folder`` that lead nowhere (dangling, or a loop), as sorted relative paths.

    The registry leaves them out of the folder's hash (they have no bytes); the adapter says so.
    """
    dead = []
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            full = os.path.join(dirpath, name)
            if os.path.islink(full) and not os.path.exists(full):
                dead.append(os.path.relpath(full, folder).replace(os.sep, "/"))
    return sorted(dead)


def is_empty_dir(path: str) -> bool:
    """True for a folder without any file below it (those cannot be registered)."""
    for _root, _dirs, files in os.walk(path):
        if files:
            return False
    return True


def relative_to(path: str, root: Path) -> str | None:
    """``path`` relative to ``root`` in POSIX form, or None when it lies outside."""
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def touches(reads: set[str], written: set[str]) -> bool:
    """Whether any location in ``reads`` is one in ``written`` or lies inside one (a ``directory()`` output)."""
    if not reads or not written:
        return False
    if reads & written:
        return True
    # A read inside a written folder: check each read's parent folders (no scan over everything written).
    for read in reads:
        parent = os.path.dirname(read)
        while parent and parent != os.path.dirname(parent):
            if parent in written:
                return True
            parent = os.path.dirname(parent)
    return False
