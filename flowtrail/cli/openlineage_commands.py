"""``flowtrail ingest`` and ``flowtrail serve``."""

from __future__ import annotations

import gc
from pathlib import Path

import click

BATCH = 5000


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--batch-size", default=BATCH, show_default=True, help="Events per transaction.")
def ingest(files: tuple[Path, ...], batch_size: int) -> None:
    """Store OpenLineage events from JSON, JSON-array or NDJSON FILES (.gz too).

    Invalid events are listed with the field and the reason and skipped; the others are stored.
    """
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from flowtrail.cli.listing import plural
    from flowtrail.cli.output import console, err_console
    from flowtrail.core.db.context import current
    from flowtrail.integrations.openlineage._collector import collect, paused_collector
    from flowtrail.integrations.openlineage.ingest import Ingestor, IngestResult, Prepared
    from flowtrail.integrations.openlineage.reader import read_events
    from flowtrail.integrations.openlineage.validation import InvalidEvent, Problem

    ingestor = Ingestor(current())
    total = IngestResult()
    rejected: list[str] = []
    sizes = [path.stat().st_size for path in files]
    # By bytes of the files as stored (one 100k-event file is the normal case), with events counted.
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    gc.freeze()  # what start-up made stays: no collection needs to walk it again
    with (
        paused_collector(),
        Progress(*columns, console=err_console, transient=True, disable=not err_console.is_terminal) as progress,
    ):
        task = progress.add_task("ingesting", total=sum(sizes))
        done, events = 0, 0
        for path, size in zip(files, sizes, strict=True):
            batch: list[Prepared] = []
            position = [0]
            for item in read_events(path, position):
                events += 1
                if events % 1000 == 0:
                    progress.update(task, completed=done + position[0], description=f"ingesting {events:,} events")
                try:
                    if item.error is not None:
                        raise InvalidEvent([Problem("(json)", item.error)])
                    batch.append(ingestor.prepare(item.event, text=item.text))
                except InvalidEvent as exc:
                    rejected.append(f"{item.source}: {exc}")
                    total.received += 1
                    continue
                if len(batch) >= batch_size:
                    total += ingestor.store(batch)
                    batch = []
                    collect()
            if batch:
                total += ingestor.store(batch)
            done += size
            progress.update(task, completed=done, description=f"ingesting {events:,} events")
    console.print(
        f"Stored {plural(total.stored, 'events')} ({total.duplicates:,} already present) touching "
        f"{plural(total.runs, 'runs')} from {plural(len(files), 'files')}."
    )
    if rejected:
        for line in rejected[:50]:
            click.echo(f"rejected {line}", err=True)
        if len(rejected) > 50:
            click.echo(f"... and {len(rejected) - 50} more", err=True)
        raise SystemExit(1)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; 127.0.0.1 keeps it local.")
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--max-body", default="10MiB", show_default=True,
              help="Largest request body, also after gunzip: 10MiB = 10 x 1024^2 bytes, 10MB = 10^7 bytes.")
@click.option("--protect-reads", is_flag=True, help="Reads need the FLOWTRAIL_API_KEY too (not only writes).")
@click.option("--max-connections", default=64, show_default=True, type=int,
              help="Connections served at once; more get 503 until one ends.")  # fmt: skip
def serve(host: str, port: int, max_body: str, protect_reads: bool, max_connections: int) -> None:
    """Serve the web interface (/), the OpenLineage endpoint (POST /api/v1/lineage) and the Marquez API.

    With FLOWTRAIL_API_KEY set, writes need `Authorization: Bearer <key>` (and reads too with
    --protect-reads). Request heads are limited to 32 KiB, write bodies in memory at once to 4.
    """
    import os

    import uvicorn

    from flowtrail.core.db.context import current
    from flowtrail.integrations.openlineage.server import MAX_HEAD_BYTES, create_app, format_size, parse_size

    if protect_reads and not os.environ.get("FLOWTRAIL_API_KEY"):
        raise click.UsageError("--protect-reads needs FLOWTRAIL_API_KEY set: there is no key to ask for otherwise.")
    try:
        limit = parse_size(max_body)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-body") from None
    app = create_app(current(), max_body=limit, protect_reads=protect_reads)
    click.echo(f"flowtrail: web interface at http://{host}:{port}/ (request bodies up to {format_size(limit)})", err=True)
    # h11 bounds the request line and headers (httptools would not): a huge header is a 400, not memory.
    uvicorn.run(app, host=host, port=port, log_level="info", http="h11", h11_max_incomplete_event_size=MAX_HEAD_BYTES,
                limit_concurrency=max_connections)  # fmt: skip
