"""The README's first command: the demo runs end to end and ends with a picture of its lineage."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_demo_runs_end_to_end_and_draws_a_picture(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWTRAIL_", "OPENLINEAGE"))}
    env.update(DEMO_DIR=str(demo), PYTHON=sys.executable,
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    done = subprocess.run(["bash", str(ROOT / "scripts" / "demo")], env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    picture = (demo / "snakemake-lineage.svg").read_text()
    assert picture.lstrip().startswith(("<svg", "<?xml")) and "</svg>" in picture
    assert "results/summary.txt" in picture
    with sqlite3.connect(demo / ".flowtrail" / "registry.db") as db:
        engines = {row[0] for row in db.execute("SELECT DISTINCT engine FROM run")}
        statuses = {row[0] for row in db.execute("SELECT DISTINCT status FROM run")}
    assert {"snakemake", "prefect"} <= engines
    assert statuses == {"completed"}
