"""Cheap, safe views of the values Prefect hands to hooks: parameters, paths, returned objects.

Everything here runs inside Prefect's hooks (or the background writer) and follows three rules:
never raise, never call ``repr()`` on an unknown object (a huge list or a custom class can take
seconds to print), and bound every walk (items, depth, number of paths).

- :func:`summarise` turns parameters into small JSON: scalars, paths as strings, DataFrames and
  arrays as ``{"type", "shape"}``, Prefect futures as the upstream task run id, anything else as
  ``"<module.Class>"``.
- :func:`collect_paths` finds path-like values (``os.PathLike``, or strings that look like local
  paths) in parameters and return values; :func:`signature` stats one (size, mtime, kind) so a
  hook can tell "existed and unchanged" (an input) from "created or modified" (an output).
- :func:`collect_objects` finds DataFrames and AnnData objects in a return value.
- :func:`state_value` reads a final state's value without ``state.result()``.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import os
import re
import uuid
from collections.abc import Iterator
from typing import Any

MAX_ITEMS = 25  # items kept per list or dict in a summary
MAX_DEPTH = 3  # nesting kept in a summary
MAX_STR = 300  # characters kept per string
MAX_PATHS = 64  # path-like values looked at per parameter set or return value
MAX_PATH_LENGTH = 4096

Signature = tuple[int, int, bool]  # (size, mtime_ns, is_dir) of a path, None when it does not exist


# -- parameter summaries -------------------------------------------------------------------------


def type_name(value: Any) -> str:
    cls = type(value)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def summarise(value: Any, depth: int = 0) -> Any:
    """A JSON-safe, size-bounded summary of ``value`` that never calls an unknown ``repr``."""
    if value is None or isinstance(value, bool | int):
        return value if not isinstance(value, enum.Enum) else f"{type(value).__name__}.{value.name}"
    if isinstance(value, str):
        return value if len(value) <= MAX_STR else value[: MAX_STR - 3] + "..."
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, os.PathLike):
        try:
            path = os.fspath(value)
        except Exception:
            return f"<{type_name(value)}>"
        return path if isinstance(path, str) else os.fsdecode(path)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return f"<{type(value).__name__} of {len(value)} bytes>"
    upstream = _upstream_id(value)
    if upstream is not None:
        return {"upstream_task_run": upstream}
    shape = getattr(value, "shape", None) if _is_array_like(value) else None
    if isinstance(shape, tuple):
        return {"type": type_name(value), "shape": [int(n) if isinstance(n, int) else str(n) for n in shape]}
    if depth >= MAX_DEPTH:
        return f"<{type_name(value)}>"
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for i, (key, item) in enumerate(value.items()):
            if i >= MAX_ITEMS:
                out["..."] = f"{len(value) - MAX_ITEMS} more"
                break
            out[key if isinstance(key, str) else str(summarise(key, MAX_DEPTH))] = summarise(item, depth + 1)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value) if not isinstance(value, list | tuple) else value
        summary = [summarise(item, depth + 1) for item in items[:MAX_ITEMS]]
        if len(items) > MAX_ITEMS:
            summary.append(f"... {len(items) - MAX_ITEMS} more")
        return summary
    number = _numpy_scalar(value)
    if number is not None:
        return summarise(number, depth)
    return f"<{type_name(value)}>"


def summarise_params(params: dict[str, Any] | None) -> dict[str, Any] | None:
    if not params:
        return None
    try:
        return {str(name): summarise(value) for name, value in params.items()}
    except Exception:  # a hostile __eq__/__len__ must not lose the whole run
        return {str(name): "<unreadable>" for name in params}


def _is_array_like(value: Any) -> bool:
    module = type(value).__module__
    return module.startswith(("pandas", "numpy", "anndata", "polars", "pyarrow", "scipy", "xarray", "dask", "torch"))


def _numpy_scalar(value: Any) -> Any:
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        try:
            item = value.item()
        except Exception:
            return None
        return item if isinstance(item, bool | int | float | str) else None
    return None


def _upstream_id(value: Any) -> str | None:
    """The task run id behind a Prefect future or state passed as a parameter."""
    module = type(value).__module__
    if not module.startswith("prefect"):
        return None
    task_run_id = getattr(value, "task_run_id", None)  # PrefectFuture
    if task_run_id is None:
        details = getattr(value, "state_details", None)  # State
        task_run_id = getattr(details, "task_run_id", None)
    return str(task_run_id) if task_run_id is not None else None


# -- paths ---------------------------------------------------------------------------------------

_LOOKS_LIKE_FILE = re.compile(r"\.[A-Za-z0-9_]{1,12}$")


def path_of(value: Any) -> str | None:
    """The absolute local path ``value`` names, or None (remote URLs and ordinary strings)."""
    if isinstance(value, os.PathLike):
        try:
            text = os.fspath(value)
        except Exception:
            return None
        if isinstance(text, bytes):
            text = os.fsdecode(text)
    elif isinstance(value, str):
        text = value
        # Strings are paths only when they look like one: a separator or a file suffix.
        if not text or len(text) > MAX_PATH_LENGTH or ("/" not in text and not _LOOKS_LIKE_FILE.search(text)):
            return None
        if "\n" in text or "\x00" in text:
            return None
    else:
        return None
    if "://" in text:
        if not text.startswith("file://"):
            return None  # remote objects are not stat-ed in hooks
        text = text[len("file://") :]
    if not text:
        return None
    try:
        return os.path.abspath(os.path.expanduser(text) if text.startswith("~") else text)
    except Exception:
        return None


def signature(path: str) -> Signature | None:
    """(size, mtime_ns, is_dir) of ``path``, or None when nothing is there; one ``stat`` call."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    is_dir = (st.st_mode & 0o170000) == 0o040000
    return (st.st_size, st.st_mtime_ns, is_dir)


def _walk_candidates(value: Any) -> Iterator[Any]:
    """``value`` itself, or the items of a list, tuple, set or dict (one level, bounded)."""
    if isinstance(value, list | tuple | set | frozenset):
        for i, item in enumerate(value):
            if i >= MAX_PATHS:
                return
            yield item
    elif isinstance(value, dict):
        for i, item in enumerate(value.values()):
            if i >= MAX_PATHS:
                return
            yield item
    else:
        yield value


def collect_paths(values: Any) -> list[str]:
    """Absolute paths named by ``values`` (a parameter dict's values, or a return value)."""
    found: list[str] = []
    seen: set[str] = set()
    items = values.values() if isinstance(values, dict) else (values,)
    for top in items:
        for candidate in _walk_candidates(top):
            path = path_of(candidate)
            if path is not None and path not in seen:
                seen.add(path)
                found.append(path)
                if len(found) >= MAX_PATHS:
                    return found
    return found


# -- in-memory objects ---------------------------------------------------------------------------


def object_kind(value: Any) -> str | None:
    """``"DataFrame"`` for a pandas DataFrame, ``"AnnData"`` for an AnnData, else None."""
    cls = type(value)
    name, module = cls.__name__, cls.__module__
    if name == "DataFrame" and module.startswith("pandas"):
        return "DataFrame"
    if name == "AnnData" and module.startswith("anndata"):
        return "AnnData"
    return None


_KEY_UNSAFE = re.compile(r"[^\w.\-]+")


def key_part(text: str) -> str:
    """``text`` as one safe key segment (letters, digits, ``_ . -``)."""
    cleaned = _KEY_UNSAFE.sub("_", str(text)).strip("._") or "_"
    return cleaned[:200]


def collect_objects(value: Any) -> list[tuple[str, Any]]:
    """``(name suffix, object)`` for each DataFrame/AnnData in a return value (one level deep)."""
    if object_kind(value) is not None:
        return [("", value)]
    found: list[tuple[str, Any]] = []
    if isinstance(value, list | tuple):
        for i, item in enumerate(value[:MAX_PATHS]):
            if object_kind(item) is not None:
                found.append((f"-{i}", item))
    elif isinstance(value, dict):
        for i, (name, item) in enumerate(value.items()):
            if i >= MAX_PATHS:
                break
            if object_kind(item) is not None:
                found.append((f"-{key_part(name)}", item))
    return found


def snapshot(obj: Any) -> Any:
    """A cheap guard against later in-place changes: a shallow copy of a DataFrame (~15 µs).

    Adding, replacing or dropping columns of the original afterwards does not reach the copy;
    writes into existing cells would (unless pandas copy-on-write is on), which is why a
    downstream task that consumes the object first waits for it to be written.
    """
    if object_kind(obj) == "DataFrame":
        try:
            return obj.copy(deep=False)
        except Exception:
            return obj
    return obj


def object_nbytes(obj: Any) -> int:
    """The in-memory size of a DataFrame or AnnData (an estimate; runs in the background)."""
    kind = object_kind(obj)
    try:
        if kind == "DataFrame":
            return int(obj.memory_usage(index=True, deep=True).sum())
        if kind == "AnnData":
            total = _array_nbytes(obj.X)
            total += int(obj.obs.memory_usage(deep=True).sum()) + int(obj.var.memory_usage(deep=True).sum())
            for layer in obj.layers.values():
                total += _array_nbytes(layer)
            return total
    except Exception:
        return 0
    return 0


def _array_nbytes(array: Any) -> int:
    if array is None:
        return 0
    nbytes = getattr(array, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    data = getattr(array, "data", None)  # scipy.sparse
    if data is not None and hasattr(data, "nbytes"):
        return int(data.nbytes) + int(getattr(array, "indices", data).nbytes) + int(getattr(array, "indptr", data).nbytes)
    return 0


# -- states --------------------------------------------------------------------------------------


def state_value(state: Any) -> tuple[Any, bool]:
    """``(value, known)`` of a final state without ``state.result()``.

    Live task states carry a ``ResultRecord`` whose ``.result`` is the returned object (or the
    exception). ``known`` is False when only result metadata is at hand (a persisted result that
    would have to be read from storage); the background writer may load it then.
    """
    data = getattr(state, "data", None)
    cls = type(data).__name__
    if cls == "ResultRecord":
        return getattr(data, "result", None), True
    if cls == "ResultRecordMetadata":
        return None, False
    return data, True


def error_text(state: Any, value: Any = None, limit: int = 2000) -> str:
    """``"ExceptionType: message"`` for a failed state, else Prefect's state message."""
    if isinstance(value, BaseException):
        text = f"{type(value).__name__}: {value}"
    else:
        message = getattr(state, "message", None)
        name = getattr(state, "name", None) or "Failed"
        text = f"{name}: {message}" if message else name
    return text if len(text) <= limit else text[: limit - 3] + "..."


def plain_datetime(value: Any) -> dt.datetime | None:
    """A standard-library aware datetime in UTC (Prefect hands out pendulum subclasses)."""
    if not isinstance(value, dt.datetime):
        return None
    offset = value.utcoffset()
    plain = dt.datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                        value.microsecond, tzinfo=dt.UTC)  # fmt: skip
    return plain - offset if offset else plain
