"""Console helpers shared by the commands."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

console = Console()
err_console = Console(stderr=True)
PROGRESS_THRESHOLD = 64 * 1024 * 1024  # bytes; smaller jobs finish in well under a second


@contextmanager
def byte_progress(total: int, description: str) -> Iterator[Callable[[int], None] | None]:
    """A transfer progress bar on stderr for jobs large enough to take a while, else None."""
    if total < PROGRESS_THRESHOLD:
        yield None
        return
    columns = (
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)
