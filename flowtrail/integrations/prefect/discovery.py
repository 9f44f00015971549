"""Static discovery of the Prefect tasks and sub-flows a flow can call.

Prefect has no global task hook, so ``tracked_flow`` attaches hooks to every ``Task`` it can find
from the flow function without running it. Starting at ``flow.fn`` it reads the names each code
object (and every nested code object: comprehensions, inner functions, lambdas) uses and resolves
them through the function's globals, closure cells and default arguments. Resolved objects are
classified:

- a ``Task``: collected, and its own function searched (tasks that call tasks);
- a ``Flow``: collected as a sub-flow, and its function searched;
- a module (``steps.clean(...)``) or a class (``Steps.clean``): the attribute names the code uses
  are looked up on it;
- a plain function defined outside the standard library and site-packages: searched in turn,
  down to ``max_depth`` calls (helper functions that call tasks);
- a list, tuple, set or dict: its items are checked for tasks and flows (``STEPS = [a, b]``).

What this cannot see: tasks created inside the flow body (``task(fn)(x)``), tasks passed in as
parameters or fetched with ``getattr(module, name)``. ``capture_all_tasks()`` covers those.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import sysconfig
import types
from dataclasses import dataclass, field
from typing import Any

MAX_DEPTH = 4
MAX_CONTAINER_ITEMS = 200

_SKIP_MODULES = ("prefect", "flowtrail", "pydantic", "typing", "builtins", "asyncio", "concurrent")
_STDLIB = sysconfig.get_paths().get("stdlib") or ""


@dataclass
class Discovered:
    """Tasks and sub-flows reachable from a flow function (by identity, in discovery order)."""

    tasks: list[Any] = field(default_factory=list)
    flows: list[Any] = field(default_factory=list)


def _code_names(code: types.CodeType) -> set[str]:
    """Every global/attribute name used by ``code`` and the code objects nested in it."""
    names: set[str] = set()
    stack = [code]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        names.update(current.co_names)
        for const in current.co_consts:
            if isinstance(const, types.CodeType):
                stack.append(const)
    return names


def _is_user_function(fn: types.FunctionType) -> bool:
    """Functions of the user's code: not the standard library, Prefect, or installed packages."""
    top = (getattr(fn, "__module__", None) or "").split(".", 1)[0]
    if top in _SKIP_MODULES or top in sys.stdlib_module_names:
        return False
    filename = fn.__code__.co_filename
    if filename.startswith("<frozen") or "site-packages" in filename or "dist-packages" in filename:
        return False
    return not (_STDLIB and filename.startswith(_STDLIB + os.sep))


def discover(fn: Any, *, max_depth: int = MAX_DEPTH) -> Discovered:
    """Tasks and sub-flows that ``fn`` (a flow function, or any function) can reach by name."""
    from prefect import Flow, Task

    found = Discovered()
    seen_objects: set[int] = set()
    seen_functions: set[int] = set()

    def classify(obj: Any, depth: int) -> None:
        if isinstance(obj, Task):
            if id(obj) not in seen_objects:
                seen_objects.add(id(obj))
                found.tasks.append(obj)
                visit(obj.fn, depth + 1, force=True)
        elif isinstance(obj, Flow):
            if id(obj) not in seen_objects:
                seen_objects.add(id(obj))
                found.flows.append(obj)
                visit(obj.fn, depth + 1, force=True)
        elif isinstance(obj, functools.partial):
            classify(obj.func, depth)
        elif isinstance(obj, types.MethodType) or isinstance(obj, staticmethod | classmethod):
            classify(obj.__func__, depth)
        elif isinstance(obj, types.FunctionType):
            if depth < max_depth and _is_user_function(obj):
                visit(obj, depth + 1)
        elif isinstance(obj, list | tuple | set | frozenset | dict):
            items = obj.values() if isinstance(obj, dict) else obj
            for i, item in enumerate(items):
                if i >= MAX_CONTAINER_ITEMS:
                    break
                if isinstance(item, Task | Flow):
                    classify(item, depth)

    def visit(fn: Any, depth: int, force: bool = False) -> None:
        try:
            fn = inspect.unwrap(fn)
        except Exception:
            pass
        code = getattr(fn, "__code__", None)
        if not isinstance(code, types.CodeType) or id(fn) in seen_functions:
            return
        if depth > max_depth and not force:
            return
        seen_functions.add(id(fn))
        names = _code_names(code)
        namespace = getattr(fn, "__globals__", {}) or {}
        objects: list[Any] = [namespace[name] for name in names if name in namespace]
        for cell in getattr(fn, "__closure__", None) or ():
            try:
                objects.append(cell.cell_contents)
            except ValueError:  # an empty cell
                pass
        objects.extend(getattr(fn, "__defaults__", None) or ())
        objects.extend((getattr(fn, "__kwdefaults__", None) or {}).values())
        for obj in list(objects):
            # module.attr and Class.attr: look the names the code uses up on them
            if isinstance(obj, types.ModuleType):
                attributes = getattr(obj, "__dict__", {})
                objects.extend(attributes[name] for name in names if name in attributes)
            elif isinstance(obj, type) and not obj.__module__.startswith(_SKIP_MODULES):
                for klass in obj.__mro__[:-1]:
                    attributes = vars(klass)
                    objects.extend(attributes[name] for name in names if name in attributes)
        for obj in objects:
            try:
                classify(obj, depth)
            except Exception:  # an exotic object must not break discovery
                continue

    visit(fn, 0, force=True)
    return found
