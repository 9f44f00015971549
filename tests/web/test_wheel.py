"""The wheel carries every template, stylesheet and script the pages use."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_wheel_ships_the_web_assets(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w",
                    tmp_path, REPO], check=True, capture_output=True)  # fmt: skip
    (wheel,) = tmp_path.glob("flowtrail-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    package = REPO / "flowtrail" / "web"
    wanted = {f"flowtrail/web/{p.relative_to(package)}" for p in package.rglob("*.*") if p.suffix in (".html", ".css", ".js")}
    assert {"flowtrail/web/templates/lineage.html", "flowtrail/web/static/lineage.js"} <= wanted
    assert wanted <= names
