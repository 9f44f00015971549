"""Is OpenLineage configured for this process, and where do its events go?

The check only reads environment variables and looks for config files, so an unconfigured process
never imports the client.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def config_file(env: Mapping[str, str] | None = None) -> Path | None:
    """The YAML file the client would read, in its own order of precedence."""
    env = os.environ if env is None else env
    candidates = [env.get("OPENLINEAGE_CONFIG"), "openlineage.yml", str(Path.home() / ".openlineage" / "openlineage.yml")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def disabled(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get("OPENLINEAGE_DISABLED", "").strip().lower() in ("true", "1", "yes")


def is_configured(env: Mapping[str, str] | None = None) -> bool:
    """True when the user configured a transport (and did not disable OpenLineage)."""
    env = os.environ if env is None else env
    if disabled(env):
        return False
    if env.get("OPENLINEAGE_URL"):
        return True
    if any(name.upper().startswith("OPENLINEAGE__TRANSPORT") for name in env):
        return True
    return config_file(env) is not None


def describe_destination() -> str:
    """One line for ``flowtrail info``: where events go, or why none are sent."""
    if disabled():
        return "disabled (OPENLINEAGE_DISABLED is set)"
    if not is_configured():
        return "not configured (set OPENLINEAGE_URL or write openlineage.yml to emit events)"
    try:
        from openlineage.client import OpenLineageClient

        transport = OpenLineageClient().transport
    except Exception as exc:  # a broken config must not break `flowtrail info`
        return f"misconfigured: {exc}"
    kind = getattr(transport, "kind", type(transport).__name__)
    config = getattr(transport, "config", None)
    where = getattr(config, "url", None) or getattr(config, "log_file_path", None) or getattr(config, "topic", None)
    return f"{kind} transport" + (f" -> {where}" if where else "")
