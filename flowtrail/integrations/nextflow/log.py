"""Reading ``.nextflow.log``: what nextflowpy does not parse out of it.

nextflowpy takes the run name, session UUID, submissions, cached tasks and completions from the
log. The adapter also needs, from the same log:

- the Nextflow version, the launch line (script, revision, branch; the repository for remote
  pipelines), the work dir, the script files (main script and modules) and the command line;
- the full work dir of every completed task (``Task completed > TaskHandler[...workDir: ...]``),
  for ``flowtrail nextflow import`` when there is no trace with a ``workdir`` column;
- the trace file a run wrote (``Workflow started -- trace file: ...``);
- where the lineage store writes (``Save LID file path: <store>/<key>/.data.json``);
- published files: ``publishing file: SRC -[MODE]-> DEST``, logged at TRACE level, which the
  runner turns on with the launcher option ``-trace nextflow.processor.PublishDir``;
- ERROR messages, for a failed run's error.

Lines are ``Mon-DD HH:MM:SS.mmm [thread] LEVEL logger - message``; a message may continue on
following lines (script file lists, stack traces, error reports).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from typing import Any

from flowtrail.integrations.nextflow import _fs

_LINE = re.compile(
    r"^(?P<ts>[A-Z][a-z]{2}-\d{1,2} \d{2}:\d{2}:\d{2}\.\d{3}) \[(?P<thread>[^\]]*)\] "
    r"(?P<level>[A-Z]+)\s+(?P<logger>\S+) - (?P<msg>.*)$"
)
_VERSION = re.compile(r"N E X T F L O W\s+~\s+version (\S+)")
_LAUNCH = re.compile(
    r"Launching `(?P<script>[^`]+)` \[(?P<name>[^\]]+)\] (?:DSL\d )?- revision: (?P<revision>\S+)(?: \[(?P<branch>[^\]]+)\])?"
)
_SUBMITTED = re.compile(r"^\[(?P<short>[0-9a-f]{2}/[0-9a-f]{6})\] Submitted process > (?P<name>.+)$")
_CACHED = re.compile(r"^\[(?P<short>[0-9a-f]{2}/[0-9a-f]{6})\] Cached process > (?P<name>.+)$")
_COMPLETED = re.compile(
    r"^Task completed > TaskHandler\[(?:id: (?P<id>\d+); )?name: (?P<name>.+?); status: (?P<status>\w+); "
    r"exit: (?P<exit>[^;]+); error: (?P<error>.*?); workDir: (?P<workdir>.+?)(?:; .*)?\]$"
)
_PUBLISH = re.compile(r"^publishing file: (?P<src>.+) -\[(?P<mode>\w+)\]-> (?P<dst>.+)$")
_PUBLISH_PATH = re.compile(r"^Publish path: (?P<path>.+?); notMatchSourceFs")
_LID = re.compile(r"^Save LID file path: (?P<path>.+)/\.data\.json$")
_TRACE_FILE = re.compile(r"^Workflow started -- trace file: (?P<path>.+)$")
_WORKDIR = re.compile(r"^Work-dir: (?P<path>.+?)(?: \[[^\]]*\])?$")
_SCRIPT = re.compile(r"^\s+Script_\w+: (?P<path>.+)$")
_LID_KEY = re.compile(r"^[0-9a-f]{32}(?:#output)?$")
_MONTHS = {
    m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)
}


@dataclass
class Message:
    time: dt.datetime | None
    level: str
    logger: str
    text: str  # the first line's message plus continuation lines


@dataclass
class Event:
    kind: str  # version, launch, session, run_name, workdir, scripts, command, submitted, cached,
    # completed, publish, publish_root, lineage, trace_file, error, goodbye
    time: dt.datetime | None
    data: dict[str, Any] = field(default_factory=dict)


def _timestamp(text: str, year: int) -> dt.datetime | None:
    # The log has no year and no zone: the JVM's local time. Converted to UTC.
    try:
        month_day, clock = text.split(" ")
        month, day = month_day.split("-")
        moment = dt.datetime.strptime(f"{year}-{_MONTHS[month]:02d}-{int(day):02d} {clock}", "%Y-%m-%d %H:%M:%S.%f")
    except (KeyError, ValueError):
        return None
    return moment.astimezone().astimezone(dt.UTC)


class LogReader:
    """Reads a log incrementally and turns complete messages into :class:`Event` s."""

    def __init__(self, location: str, *, year: int | None = None) -> None:
        self.location = location
        self._offset = 0
        self._pending: list[str] = []  # lines of the message not known to be complete yet
        self._partial = b""
        self._year = year
        self._in_scripts = False

    @property
    def year(self) -> int:
        if self._year is None:
            try:
                self._year = dt.datetime.fromtimestamp(os.path.getmtime(self.location)).year
            except OSError:
                self._year = dt.datetime.now().year
        return self._year

    def reset(self) -> None:
        self._offset, self._pending, self._partial = 0, [], b""

    def read(self, *, final: bool = False) -> list[Event]:
        """Events from the messages completed since the last read (all of them when ``final``)."""
        fs, path = _fs.filesystem_for(self.location)
        try:
            with fs.open(path, "rb") as handle:
                size = handle.seek(0, 2)
                if size < self._offset:  # rotated away and started afresh
                    self.reset()
                handle.seek(self._offset)
                data = handle.read()
        except FileNotFoundError:
            data = b""
        self._offset += len(data)
        chunks = (self._partial + data).split(b"\n")
        self._partial = b"" if final else chunks.pop()
        if final and chunks and chunks[-1] == b"":
            chunks.pop()
        messages: list[Message] = []
        for raw in chunks:
            line = raw.decode("utf-8", errors="replace").rstrip("\r")
            if _LINE.match(line) and self._pending:
                messages.append(self._message(self._pending))
                self._pending = []
            if self._pending or _LINE.match(line):
                self._pending.append(line)
        if final and self._pending:
            messages.append(self._message(self._pending))
            self._pending = []
        events: list[Event] = []
        for message in messages:
            events.extend(parse_message(message))
        return events

    def _message(self, lines: list[str]) -> Message:
        match = _LINE.match(lines[0])
        assert match is not None
        text = "\n".join([match.group("msg"), *lines[1:]])
        return Message(_timestamp(match.group("ts"), self.year), match.group("level"), match.group("logger"), text)


def parse_message(message: Message) -> list[Event]:
    """The events one log message carries (usually none)."""
    text, when = message.text, message.time
    first = text.split("\n", 1)[0]
    if message.level == "ERROR":
        return [Event("error", when, {"message": text})]
    if match := _SUBMITTED.match(first):
        return [Event("submitted", when, {"short": match.group("short"), "name": match.group("name")})]
    if match := _CACHED.match(first):
        return [Event("cached", when, {"short": match.group("short"), "name": match.group("name")})]
    if match := _COMPLETED.match(first):
        exit_text = match.group("exit").strip()
        return [Event("completed", when, {
            "name": match.group("name"), "status": match.group("status"),
            "exit": int(exit_text) if exit_text.lstrip("-").isdigit() else None,
            "workdir": match.group("workdir").strip(), "error": match.group("error"),
        })]  # fmt: skip
    if match := _PUBLISH.match(first):
        return [
            Event("publish", when, {"src": match.group("src"), "dst": match.group("dst"), "mode": match.group("mode")})
        ]
    if match := _LID.match(first):
        location = match.group("path")
        key = _fs.basename(location)
        if _LID_KEY.match(key):
            return [Event("lineage", when, {"store": _fs.dirname(location), "key": key})]
        return []
    if match := _PUBLISH_PATH.match(first):
        return [Event("publish_root", when, {"path": match.group("path")})]
    if first.startswith("$> "):
        return [Event("command", when, {"command": first[3:]})]
    if match := _VERSION.search(first):
        return [Event("version", when, {"version": match.group(1)})]
    if match := _LAUNCH.search(first):
        return [Event("launch", when, match.groupdict())]
    if first.startswith("Session UUID: "):
        return [Event("session", when, {"session_id": first.split(": ", 1)[1].strip()})]
    if first.startswith("Run name: "):
        return [Event("run_name", when, {"name": first.split(": ", 1)[1].strip()})]
    if match := _WORKDIR.match(first):
        return [Event("workdir", when, {"path": match.group("path")})]
    if match := _TRACE_FILE.match(first):
        return [Event("trace_file", when, {"path": match.group("path").strip()})]
    if first.startswith("Parsed script files:"):
        paths = [m.group("path").strip() for line in text.split("\n")[1:] if (m := _SCRIPT.match(line))]
        return [Event("scripts", when, {"paths": paths})]
    if "Execution complete -- Goodbye" in first:
        return [Event("goodbye", when)]
    return []


def read_all(location: str) -> list[Event]:
    """Every event of a finished log."""
    return LogReader(location).read(final=True)


def first_error(events: list[Event]) -> str | None:
    """The first ERROR message, cut before the command listing (what ``nextflow run`` prints first)."""
    for event in events:
        if event.kind == "error":
            text = event.data["message"].split("\nCommand executed:", 1)[0]
            return "\n".join(line.rstrip() for line in text.strip().splitlines())[:2000]
    return None
