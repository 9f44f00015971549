"""Benchmark: flowtrail side by side with lamindb on the bulk-save and track workloads.

Run with ``python benchmarks/vs_lamindb.py``. It creates a throwaway virtual environment in a
temporary folder, installs lamindb there with pip (about a minute), creates a local SQLite
instance of each tool, and runs the same workloads on the same files:

- bulk save: ``save([Artifact(path, key=...) for 1000 files])`` (managed copies, 1-4 KB files);
- one at a time: ``Artifact(path, key=...).save()`` for 200 more files;
- track: a script that only calls ``track()`` and ``finish()``, as a fresh subprocess per run,
  median of the rounds minus a bare ``python -c pass`` of the same interpreter.

lamindb runs offline: its settings and caches live in the temporary folder (HOME and
LAMIN_SETTINGS_DIR point there), no user is logged in, and ``ln.setup.settings.instance._is_on_hub
= False`` stops it from asking LaminHub whether the instance is registered. When lamindb cannot
be installed or run here the script says why and exits 0. ``--venv PATH`` reuses an existing
environment that has lamindb (it is left in place). Everything else is deleted afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N_BULK = 1000
N_SINGLE = 200
ROUNDS = 5
INSTALL_TIMEOUT_S = 600

# Runs inside the interpreter of the tool it measures; prints one JSON line.
WORKER = r'''
import json, sys, time
tool, project, src, n_bulk, n_single = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
files = sorted(f"{src}/{name}" for name in __import__("os").listdir(src))
bulk, single = files[:n_bulk], files[n_bulk:n_bulk + n_single]
if tool == "flowtrail":
    import flowtrail as lib
    lib.init(project)
else:
    import lamindb as lib
    lib.setup.settings.instance._is_on_hub = False
    lib.settings.verbosity = "error"
start = time.perf_counter()
saved = lib.save([lib.Artifact(path, key=f"bulk/{path.rsplit('/', 1)[1]}") for path in bulk])
bulk_s = time.perf_counter() - start
start = time.perf_counter()
for path in single:
    lib.Artifact(path, key=f"single/{path.rsplit('/', 1)[1]}").save()
single_s = time.perf_counter() - start
count = lib.Artifact.filter().count()
print(json.dumps({"bulk_s": bulk_s, "single_s": single_s, "count": count}))
'''

TRACK_SCRIPTS = {
    "flowtrail": "import flowtrail\nflowtrail.track()\nflowtrail.finish()\n",
    "lamindb": (
        "import lamindb as ln\nln.setup.settings.instance._is_on_hub = False\n"
        "ln.track()\nln.finish()\n"
    ),
}


class Skip(Exception):
    """lamindb cannot be installed or run here; the message says why."""


def tail(text: str, lines: int = 15) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


def run(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str], timeout: float = 600) -> str:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise subprocess.CalledProcessError(result.returncode, cmd, result.stdout, result.stderr)
    return result.stdout


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWTRAIL_", "LAMIN"))}
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("VIRTUAL_ENV", None)
    return env


def lamindb_python(base: Path, venv: str | None, env: dict[str, str]) -> Path:
    """The interpreter of an environment with lamindb, installing one if needed."""
    if venv is not None:
        python = Path(venv) / "bin" / "python"
        if not python.exists():
            raise Skip(f"--venv {venv} has no bin/python.")
        return python
    folder = base / "venv"
    print(f"  creating a throwaway venv in {folder} and installing lamindb (about a minute) ...", flush=True)
    try:
        run([sys.executable, "-m", "venv", str(folder)], env=env, timeout=300)
        python = folder / "bin" / "python"
        start = time.perf_counter()
        run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "lamindb"],
            env=env, timeout=INSTALL_TIMEOUT_S)  # fmt: skip
        print(f"  installed in {time.perf_counter() - start:.0f} s", flush=True)
    except subprocess.TimeoutExpired:
        raise Skip(f"pip install lamindb did not finish within {INSTALL_TIMEOUT_S} s.") from None
    except subprocess.CalledProcessError as exc:
        raise Skip(f"pip install lamindb failed (no access to PyPI?):\n{tail(exc.stderr or exc.stdout)}") from None
    return python


def make_files(folder: Path, n: int) -> None:
    rng = random.Random(7)
    folder.mkdir(parents=True)
    for i in range(n):
        (folder / f"f{i:05d}.bin").write_bytes(os.urandom(rng.randint(1024, 4096)))


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    run(cmd, cwd=cwd, env=env, timeout=300)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", help="reuse this virtual environment (must have lamindb installed)")
    args = parser.parse_args()
    print(f"vs_lamindb: {N_BULK} files in one bulk save, {N_SINGLE} saved one at a time, track() x {ROUNDS}; "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    base = Path(tempfile.mkdtemp(prefix="flowtrail-bench-lamindb-"))
    try:
        return compare(base, args.venv)
    except Skip as reason:
        print(f"\nlamindb comparison skipped: {reason}")
        return 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


def compare(base: Path, venv: str | None) -> int:
    env = base_env()
    home = base / "home"
    home.mkdir()
    # lamindb keeps settings under HOME/.lamin and caches under the user cache dir: keep both here.
    lamin_env = {**env, "HOME": str(home), "LAMIN_SETTINGS_DIR": str(home), "XDG_CACHE_HOME": str(home / ".cache"),
                 "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local" / "share")}  # fmt: skip
    flow_env = {**env, "PYTHONPYCACHEPREFIX": str(base / "pycache")}  # byte-code cached, as installed packages run
    pythons = {"flowtrail": Path(sys.executable), "lamindb": lamindb_python(base, venv, env)}
    envs = {"flowtrail": flow_env, "lamindb": lamin_env}
    try:
        version = run([str(pythons["lamindb"]), "-c", "import lamindb; print(lamindb.__version__)"],
                      env=lamin_env, cwd=home).strip().splitlines()[-1]  # fmt: skip
    except subprocess.CalledProcessError as exc:
        raise Skip(f"lamindb is installed but does not import:\n{tail(exc.stderr)}") from None
    import flowtrail

    print(f"  flowtrail {flowtrail.__version__} (python {sys.version.split()[0]}), lamindb {version}", flush=True)

    src = base / "src"
    make_files(src, N_BULK + N_SINGLE)
    worker = base / "worker.py"
    worker.write_text(WORKER)
    projects = {tool: base / f"{tool}-project" for tool in pythons}
    for project in projects.values():
        project.mkdir()
    try:
        run([str(pythons["lamindb"]), "-c", f"import lamindb as ln; ln.setup.init(storage={str(projects['lamindb'] / 'data')!r})"],
            cwd=projects["lamindb"], env=lamin_env, timeout=300)  # fmt: skip
    except subprocess.CalledProcessError as exc:
        raise Skip(f"`ln.setup.init` of a local SQLite instance failed offline:\n{tail(exc.stderr)}") from None

    saves: dict[str, dict[str, float]] = {}
    for tool in ("flowtrail", "lamindb"):
        print(f"  {tool}: saving ...", flush=True)
        target = projects[tool] / "instance" if tool == "flowtrail" else projects[tool]
        try:
            out = run([str(pythons[tool]), str(worker), tool, str(target), str(src), str(N_BULK), str(N_SINGLE)],
                      cwd=projects[tool], env=envs[tool], timeout=600)  # fmt: skip
        except subprocess.CalledProcessError as exc:
            if tool == "lamindb":
                raise Skip(f"saving artifacts with lamindb failed offline:\n{tail(exc.stderr)}") from None
            raise
        saves[tool] = json.loads(out.strip().splitlines()[-1])
        if saves[tool]["count"] != N_BULK + N_SINGLE:
            print(f"  warning: {tool} registered {saves[tool]['count']} artifacts, expected {N_BULK + N_SINGLE}")

    print("  track() + finish(): ", end="", flush=True)
    scripts = {}
    cwds = {"flowtrail": projects["flowtrail"] / "instance", "lamindb": projects["lamindb"]}
    for tool, code in TRACK_SCRIPTS.items():
        scripts[tool] = cwds[tool] / "bench_track.py"
        scripts[tool].write_text(code)
    commands = {
        (tool, kind): [str(pythons[tool]), *(["-c", "pass"] if kind == "bare" else [str(scripts[tool])])]
        for tool in pythons
        for kind in ("bare", "track")
    }
    try:
        for key, cmd in commands.items():  # warm-up: byte-code, page cache, first-run registrations
            timed(cmd, cwds[key[0]], envs[key[0]])
        times: dict[tuple[str, str], list[float]] = {key: [] for key in commands}
        for _round in range(ROUNDS):
            for key, cmd in commands.items():
                times[key].append(timed(cmd, cwds[key[0]], envs[key[0]]))
            print(".", end="", flush=True)
        print()
    except subprocess.CalledProcessError as exc:
        raise Skip(f"track()/finish() failed:\n{tail(exc.stderr)}") from None

    track = {
        tool: statistics.median(times[(tool, "track")]) - statistics.median(times[(tool, "bare")]) for tool in pythons
    }
    rows = [
        ("bulk save, ms/artifact", {t: saves[t]["bulk_s"] / N_BULK * 1e3 for t in pythons}, "0.5 ms"),
        ("one at a time, ms/artifact", {t: saves[t]["single_s"] / N_SINGLE * 1e3 for t in pythons}, "2 ms"),
        ("track()+finish() over bare python, s", track, "0.15 s"),
    ]
    header = f"{'workload':<38} {'flowtrail':>10} {'lamindb':>10} {'lamindb / flowtrail':>20} {'flowtrail target':>17}"
    print()
    print(header)
    print("-" * len(header))
    for name, values, target in rows:
        ratio = values["lamindb"] / values["flowtrail"] if values["flowtrail"] > 0 else float("nan")
        print(f"{name:<38} {values['flowtrail']:>10.3f} {values['lamindb']:>10.3f} {ratio:>19.1f}x {'<= ' + target:>17}")
    print()
    print("Both tools: local SQLite instance, managed copies of the same 1-4 KB files, one run of the save workloads;")
    print(f"track: medians of {ROUNDS} fresh subprocesses minus the median bare start-up of the same interpreter.")
    print("Save timings run from building the Artifact objects to the committed save (both tools do work in the")
    print("constructor). lamindb ran offline: anonymous user, _is_on_hub = False, settings in a temporary HOME.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
