"""Snakemake discovers the plugin from a normal (non-editable) install of the flowtrail wheel."""

from __future__ import annotations

import site
import subprocess
import sys
from pathlib import Path

import pytest
from snakemake_helpers import fresh_reads, problems

import flowtrail as ft

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_the_wheel_installs_a_discoverable_plugin(smk, tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", dist, REPO],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = dist.glob("flowtrail-*.whl")
    # A throwaway environment that sees this one's packages (snakemake, SQLAlchemy, ...) but gets
    # flowtrail and the shim package from the wheel: its own site-packages come first on sys.path.
    # The outer site-packages are listed in a .pth file (the tests may run in a venv themselves, whose
    # packages --system-site-packages would not show); .pth files inside them, such as the editable
    # install of flowtrail, are not processed from there, so the wheel's flowtrail is the one found.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    inner = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                           check=True, capture_output=True, text=True).stdout.strip()
    Path(inner, "outer-environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-deps", "--no-index", wheel],
        check=True, capture_output=True,
    )  # fmt: skip
    where = subprocess.run(
        [python, "-c", (
            "from snakemake_interface_logger_plugins.registry import LoggerPluginRegistry as R\n"
            "import snakemake_logger_plugin_flowtrail as shim, flowtrail\n"
            "print(R().get_plugin('flowtrail').name, shim.__file__, flowtrail.__file__)"
        )],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    lib = str(venv / "lib")
    assert where[0] == "flowtrail" and where[1].startswith(lib) and where[2].startswith(lib)

    workdir = smk.workflow("installed", {
        "Snakefile": '''
            rule hello:
                output: "hello.txt"
                shell: "echo hello > {output}"
        ''',
    })  # fmt: skip
    result = subprocess.run(
        [python, "-m", "snakemake", "-c1", "--logger", "flowtrail"], check=False, cwd=workdir, env=smk.env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert not problems(result.stderr), result.stderr
    fresh_reads()
    (hello,) = ft.Run.get(transform__key="installed/Snakefile").children
    assert hello.status == "completed" and [a.key for a in hello.outputs] == ["hello.txt"]
