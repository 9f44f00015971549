"""Reading Snakemake's own per-output metadata records (``.snakemake/metadata/``), best effort.

Snakemake writes one JSON record per output file when a job ends, before it logs
``job_finished``: the rule, its params (as sorted ``repr`` strings), its code, the shell command,
start and end times (the end time is the output's mtime), software stack and input checksums.
The record is overwritten by the next run that makes the file, absent for jobs without outputs,
absent with ``--drop-metadata`` and kept elsewhere with ``--persistence-backend db``: the adapter
uses it to enrich a job's run, never to decide anything.
"""

import json
import os
from base64 import urlsafe_b64encode
from pathlib import Path
from typing import Any

MAX_RECORD = 5_000_000  # bytes


def record_path(metadata_dir: Path, key: str) -> Path:
    """Where Snakemake's file persistence keeps the record of output ``key`` (as the Snakefile spells it)."""
    try:
        max_len = os.pathconf(metadata_dir, "PC_NAME_MAX") if os.name == "posix" else 255
    except (OSError, ValueError):
        max_len = 255
    if max_len <= 0:
        max_len = 255
    b64id = urlsafe_b64encode(key.encode()).decode()
    parts = [b64id[i : i + max_len - 1] for i in range(0, len(b64id), max_len - 1)]
    parts = ["@" + part for part in parts[:-1]] + parts[-1:]
    return metadata_dir.joinpath(*parts)


def read_record(workdir: str | os.PathLike[str], key: str, rule: str | None = None) -> dict[str, Any] | None:
    """The metadata record of output ``key`` below ``workdir``, if it exists and belongs to ``rule``."""
    metadata_dir = Path(workdir) / ".snakemake" / "metadata"
    try:
        path = record_path(metadata_dir, key)
        if path.stat().st_size > MAX_RECORD:
            return None
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("incomplete"):
        return None
    if rule is not None and record.get("rule") != rule:
        return None
    return record
