"""What flowtrail's Prefect hooks log: Prefect's lines around them dropped, their failures once.

Prefect logs two INFO lines around every hook call; :class:`HookLogFilter` drops those lines for
flowtrail's hooks only. The filter is installed when this module is imported, and the hook
modules import it: a process-pool worker that unpickles the hooks (and so imports their modules)
gets the filter too. No hook raises: a failure is logged by :func:`report`, once per kind.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("flowtrail")

HOOK_LOGGERS = ("prefect.task_runs", "prefect.flow_runs", "prefect.engine")
reported: set[str] = set()  # kinds of failure already logged; looked up at each call, so a reset applies


def report(kind: str, exc: BaseException) -> None:
    if kind not in reported:
        reported.add(kind)
        logger.warning("flowtrail: the Prefect %s hook failed (%s: %s); the flow is unaffected. "
                       "Further such errors are not shown.", kind, type(exc).__name__, exc)  # fmt: skip


class HookLogFilter(logging.Filter):
    """Drops Prefect's "Running hook 'flowtrail_...'" / "Hook 'flowtrail_...' finished" lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg
        if isinstance(msg, str) and "'flowtrail_" in msg:
            return not msg.startswith(("Running hook", "Hook "))
        return True


_FILTER = HookLogFilter()


def install_log_filter() -> None:
    for name in HOOK_LOGGERS:
        target = logging.getLogger(name)
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)


install_log_filter()
