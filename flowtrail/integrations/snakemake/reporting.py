"""How the recorder reports problems without disturbing Snakemake's own log.

flowtrail's warnings go to stderr, prefixed ``flowtrail:``, and nothing below WARNING; an error
that means the registry itself is unusable (as opposed to one unreadable file) is told apart, so
the recorder can disable recording with one warning instead of reporting every event.
"""

import logging


def _registry_error(exc: BaseException) -> bool:
    """Errors that mean the registry itself is unusable (as opposed to one unreadable file)."""
    try:
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:  # pragma: no cover - SQLAlchemy is a core dependency
        return False
    from flowtrail.core.errors import (
        ConfigurationError,
        NoInstanceError,
        RegistryError,
        SchemaVersionError,
    )

    return isinstance(exc, SQLAlchemyError | ConfigurationError | NoInstanceError | SchemaVersionError | RegistryError)


def _ensure_log_handler() -> None:
    """Make sure flowtrail's warnings reach stderr inside Snakemake (which configures its own logger only)."""
    base = logging.getLogger("flowtrail")
    if base.handlers or logging.getLogger().handlers:
        return
    quiet_logging()


def quiet_logging() -> None:
    """flowtrail's warnings on stderr, prefixed ``flowtrail:``; nothing below WARNING.

    Per-artifact notices (e.g. "1 of 1 artifacts were already registered", which every rerun of an
    unchanged job would print) are noise next to Snakemake's own log.
    """
    base = logging.getLogger("flowtrail")
    if not any(getattr(h, "_flowtrail_snakemake", False) for h in base.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("flowtrail: %(message)s"))
        handler._flowtrail_snakemake = True  # type: ignore[attr-defined]
        base.addHandler(handler)
    base.setLevel(logging.WARNING)
    base.propagate = False
