"""Artifacts an adapter builds itself from in-memory objects (a DataFrame a task returned).

:class:`~flowtrail.core.adapter.FileRegistry` turns paths into artifacts; an object has no path:
the adapter builds its artifact (``Artifact.from_dataframe(df, key=..., run=task_run)``) and
saves it here, with the same rules as files: in ``instance`` (not the current one), one
transaction for all, then one by one when one fails, no run but the one each artifact names, and
no "already registered" notice (an engine re-saving identical content is the normal case).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from flowtrail.core.adapter.report import is_registry_error
from flowtrail.core.artifacts.save import save_artifacts
from flowtrail.core.errors import FlowtrailError

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance
    from flowtrail.core.models.artifact import Artifact

__all__ = ["save_objects"]


def save_objects(
    instance: Instance, artifacts: Sequence[Artifact], on_skip: Callable[[Artifact, BaseException], None]
) -> list[Artifact | None]:
    """Save built artifacts; the registered record of each, in order (None: left out, ``on_skip`` told why).

    A registry failure is raised (see :mod:`.report`); any other failure leaves out only the
    artifact it concerns.
    """
    if not artifacts:
        return []
    try:
        return list(save_artifacts(list(artifacts), instance=instance, run=None, log_duplicates=False))
    except (FlowtrailError, OSError, ValueError) as exc:
        if is_registry_error(exc):
            raise
    saved: list[Artifact | None] = []
    for artifact in artifacts:  # one bad object must not lose the others
        try:
            saved.extend(save_artifacts([artifact], instance=instance, run=None, log_duplicates=False))
        except (FlowtrailError, OSError, ValueError) as exc:
            if is_registry_error(exc):
                raise
            on_skip(artifact, exc)
            saved.append(None)
    return saved
