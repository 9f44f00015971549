"""``@tracked``: every call of a function becomes a run, nested calls children of the calling run."""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, overload

from flowtrail.core.db.context import current
from flowtrail.core.runs.projects import env_project
from flowtrail.core.runs.tracking import as_current, current_run, finish_run, start_run

F = TypeVar("F", bound=Callable[..., Any])


def function_key(fn: Callable[..., Any], root: Any = None) -> str:
    """``<module path relative to the instance root>:<qualified name>``, e.g. ``scripts/clean.py:normalise``.

    A module outside the instance keeps its dotted name (``pkg.mod:f``); never ``__main__``: a
    function of the running script is keyed by the script's path like the script's own run.
    """
    module = getattr(fn, "__module__", None) or "interactive"
    try:
        file = inspect.getsourcefile(fn) or inspect.getfile(fn)
    except (TypeError, OSError):
        file = None
    path = Path(file).resolve() if file else None
    if path is not None and root is not None and path.is_relative_to(root):
        base = path.relative_to(root).as_posix()
    elif module != "__main__":
        base = module
    elif path is not None and path.is_file():
        base = path.name
    else:
        base = "interactive"
    return f"{base}:{fn.__qualname__}"


@overload
def tracked(function: F) -> F: ...
@overload
def tracked(
    function: None = None, *, key: str | None = None, type: str = "function", project: Any = None
) -> Callable[[F], F]: ...


def tracked(function: Any = None, *, key: str | None = None, type: str = "function", project: Any = None) -> Any:  # noqa: A002
    """Track every call of a function as a run; nested calls get the calling run as parent.

    ``project`` (a name or a Project) groups the runs and their outputs; without one, a call
    inside another run inherits that run's project, and a top-level call uses ``FLOWTRAIL_PROJECT``.
    """

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn)

        @functools.cache
        def transform_key() -> str:  # at the first call: the instance is known by then
            return key or function_key(fn, current().config.root)

        @functools.cache
        def source() -> str | None:
            try:
                return inspect.getsource(fn)
            except (OSError, TypeError):
                return None

        @contextlib.contextmanager
        def call(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Iterator[None]:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            parent = current_run()
            run = start_run(
                transform_key(), type=type, source_code=source(), params=dict(bound.arguments), parent=parent,
                project=project if project is not None or parent is not None else env_project(),
            )  # fmt: skip
            with as_current(run):
                try:
                    yield
                except BaseException as exc:
                    # Interrupted (Ctrl-C, SIGTERM, sys.exit) is not the function failing.
                    status = "aborted" if isinstance(exc, KeyboardInterrupt | SystemExit) else "failed"
                    finish_run(run, status, error=f"{exc.__class__.__name__}: {exc}")
                    raise
            finish_run(run, "completed")

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with call(args, kwargs):
                    return await fn(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with call(args, kwargs):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    if function is not None:
        return decorate(function)
    return decorate
