"""What describes a workflow run and its jobs: keys, parameters, configuration, benchmark numbers.

Pure functions over the payloads of Snakemake's log events (see :mod:`.events`) and files on
disk; nothing here touches the registry.
"""

import hashlib
import os
import re
import shlex
from pathlib import Path
from typing import Any

# Resources Snakemake adds for its own bookkeeping: not something the rule asked for.
_INTERNAL_RESOURCES = ("_cores", "_nodes")
_EXIT_STATUS = re.compile(r"(?:non-zero )?exit status (-?\d+)")


def touches_only(cmd: str | None) -> bool:
    """Whether the command line has ``--touch`` (``-t``): jobs are then only touched, not run.

    Snakemake logs such jobs exactly like real ones, and its logger settings do not say.
    """
    if not cmd:
        return False
    try:
        argv = shlex.split(cmd)
    except ValueError:
        argv = cmd.split()
    return any(arg == "-t" or (len(arg) >= 4 and "--touch".startswith(arg)) for arg in argv)


def workflow_key(snakefile: str | None, basedir: str | None, instance_root: Path | None) -> str:
    """The key of the workflow's transform: the main Snakefile's path, relative to a meaningful folder.

    Relative to the flowtrail instance's root when the Snakefile lies inside it (``Snakefile``,
    ``workflow/Snakefile``), as scripts are keyed; otherwise relative to the folder above the
    workflow's base folder, so the key names the workflow (``rnaseq/Snakefile``).
    """
    if not snakefile:
        return "Snakefile"
    path = Path(snakefile).resolve()
    if instance_root is not None:
        root = instance_root.resolve()
        if path.is_relative_to(root):
            return path.relative_to(root).as_posix()
    base = Path(basedir).resolve() if basedir else path.parent
    if path.is_relative_to(base.parent) and base.parent != base:
        return path.relative_to(base.parent).as_posix()
    return path.name


def rule_key(workflow: str, rule: str) -> str:
    return f"{workflow}/{rule}"


def job_name(rule: str, wildcards: dict[str, Any] | None) -> str:
    """``rule`` or ``rule[sample=A,lane=1]``: what a job is called in listings."""
    if not wildcards:
        return rule
    inner = ",".join(f"{k}={v}" for k, v in wildcards.items())
    return f"{rule}[{inner}]"[:500]


def resources(value: Any) -> dict[str, Any]:
    """The job's resources without Snakemake's internal entries."""
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if k not in _INTERNAL_RESOURCES}


def job_params(data: dict[str, Any]) -> dict[str, Any]:
    """A job run's params from its ``job_info`` payload (Snakemake's ``params:`` come at the end)."""
    params: dict[str, Any] = {
        "jobid": data.get("jobid"),
        "wildcards": data.get("wildcards") or {},
        "threads": data.get("threads"),
        "resources": resources(data.get("resources")),
        "reason": data.get("reason"),
    }
    if data.get("priority") not in (None, 0):
        params["priority"] = data["priority"]
    if data.get("local") is False:
        params["local"] = False
    if data.get("is_checkpoint"):
        params["checkpoint"] = True
    if data.get("rule_msg"):
        params["message"] = data["rule_msg"]
    if data.get("shellcmd"):
        params.update(shell_command(str(data["shellcmd"])))
    return params


def shell_command(cmd: str) -> dict[str, Any]:
    """The job's shell command as params: whole when it fits, else cut with a mark that says so.

    Run params keep strings up to a limit (see :mod:`flowtrail.core.util.params`); a longer command
    would be cut there without a word. Here it is cut visibly, with its full length and MD5 (to
    compare with Snakemake's metadata record, which keeps it whole).
    """
    from flowtrail.core.adapter import MAX_REPR

    limit = 10 * MAX_REPR  # what run params keep of a string
    if len(cmd) <= limit:
        return {"shellcmd": cmd}
    mark = f" [... cut: the command has {len(cmd)} characters]"
    return {
        "shellcmd": cmd[: limit - len(mark)] + mark,
        "shellcmd_chars": len(cmd),
        "shellcmd_md5": hashlib.md5(cmd.encode()).hexdigest(),
    }


def metadata_params(record: dict[str, Any]) -> dict[str, Any]:
    """What Snakemake's metadata record adds to a job's params: its ``params:`` and software stack."""
    extra: dict[str, Any] = {}
    if isinstance(record.get("params"), list) and record["params"]:
        extra["params"] = record["params"]  # repr strings, sorted by Snakemake; names are not recorded
    if record.get("conda_env"):
        extra["conda_env"] = True
    if record.get("container_img_url"):
        extra["container_img_url"] = record["container_img_url"]
    return extra


# Errors Snakemake raises when a job's outputs fail its checks after the job ran.
_OUTPUT_CHECKS = (
    "Detected unexpected empty output files",  # ensure(non_empty=True)
    "Output files have checksums that differ",  # ensure(sha256=...)
    "but some output files are missing",  # MissingOutputException
)
_IN_RULE = re.compile(r"^\w+ in rule (?P<rule>[A-Za-z_]\w*) in file ", re.MULTILINE)


def output_check_rule(message: str | None) -> str | None:
    """The rule whose job's outputs failed Snakemake's checks, when ``message`` is such an error."""
    if not message or not any(text in message for text in _OUTPUT_CHECKS):
        return None
    match = _IN_RULE.search(message)
    return match["rule"] if match else None


def exit_status(message: str | None) -> int | None:
    """The exit status in a ``RuleException`` message (``... returned non-zero exit status 3.``)."""
    if not message:
        return None
    match = _EXIT_STATUS.search(message)
    return int(match.group(1)) if match else None


def workflow_params(info: dict[str, Any], workdir: str) -> dict[str, Any]:
    """The workflow run's params: command line, configuration, host, user, versions, folders."""
    launch = info.get("cwd") or workdir
    config, configfiles = load_config(info.get("configfiles") or [], [launch, workdir, info.get("basedir")])
    overrides = config_overrides(info.get("cmd") or "")
    if overrides:
        config = merge(config or {}, overrides)
    params: dict[str, Any] = {
        "cmd": info.get("cmd"),
        "config": config,
        "configfiles": configfiles,
        "config_md5": info.get("config_md5"),
        "host": info.get("host"),
        "user": info.get("user"),
        "snakemake_version": info.get("snakemake_version"),
        "workdir": workdir,
        "workflow_id": info.get("workflow_id"),
    }
    return {k: v for k, v in params.items() if v is not None}


def load_config(files: list[Any], folders: list[str | None]) -> tuple[dict[str, Any] | None, list[str]]:
    """Merge the YAML/JSON config files Snakemake read (found relative to the given folders)."""
    config: dict[str, Any] | None = None
    resolved = []
    for name in files:
        path = _find(str(name), folders)
        if path is None:
            resolved.append(str(name))
            continue
        resolved.append(str(path))
        try:
            import yaml

            data = yaml.safe_load(path.read_text())
        except Exception:  # unreadable or not YAML: the file list is still recorded
            continue
        if isinstance(data, dict):
            config = merge(config or {}, data)
    return config, resolved


def _find(name: str, folders: list[str | None]) -> Path | None:
    path = Path(os.path.expanduser(name))
    if path.is_absolute():
        return path if path.is_file() else None
    for folder in folders:
        if folder and (Path(folder) / path).is_file():
            return (Path(folder) / path).resolve()
    return None


def config_overrides(cmd: str) -> dict[str, Any]:
    """``--config key=value ...`` from the command line, values parsed as YAML as Snakemake does."""
    try:
        argv = shlex.split(cmd)
    except ValueError:
        argv = cmd.split()
    overrides: dict[str, Any] = {}
    taking = False
    for arg in argv:
        if arg in ("--config", "-C"):
            taking = True
            continue
        if arg.startswith("--config="):
            arg, taking = arg.split("=", 1)[1], True
        elif arg.startswith("-"):
            taking = False
            continue
        if taking and "=" in arg:
            key, _, text = arg.partition("=")
            try:
                import yaml

                value = yaml.safe_load(text) if text else None
            except Exception:
                value = text
            overrides[key] = value
    return overrides


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict update (as Snakemake merges config files), returning a new dict."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def benchmark_metrics(path: str) -> dict[str, Any] | None:
    """The first row of a ``benchmark:`` TSV (seconds, max_rss, io_in, cpu_time, ...) as numbers."""
    try:
        with open(path) as handle:
            lines = [line.rstrip("\n") for line in handle if line.strip()][:50]
    except (OSError, UnicodeDecodeError):
        return None
    if len(lines) < 2:
        return None
    header = lines[0].split("\t")
    values = lines[1].split("\t")
    metrics: dict[str, Any] = {}
    for name, text in zip(header, values, strict=False):
        if name == "h:m:s":
            continue
        try:
            metrics[name] = float(text)
        except ValueError:
            if text not in ("", "-", "NA"):
                metrics[name] = text
    if len(lines) > 2:
        metrics["repeats"] = len(lines) - 1
    return metrics or None
