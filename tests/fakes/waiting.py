"""Tests wait on state with a deadline, never on elapsed time: the one helper that polls for that state."""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T],
    *,
    timeout: float = 30.0,
    interval: float = 0.05,
    step: Callable[[], object] | None = None,
) -> T:
    """Poll `condition` until it returns a truthy value, and return that value.

    The deadline only bounds a hang: the last check starts after it has passed, so a slow (loaded) machine fails
    only when the state never came. `step`, if given, runs before each check, for a flow the test drives (a queue
    drain, a reconcile cycle).
    """
    deadline = time.monotonic() + timeout
    while True:
        expired = time.monotonic() >= deadline
        if step is not None:
            step()
        value = condition()
        if value:
            return value
        if expired:
            raise AssertionError(f"waited {timeout} s for {_awaited(condition)}; last value seen: {_short(value)}")
        time.sleep(interval)


def _awaited(condition: Callable[[], object]) -> str:
    """What was awaited: a lambda's source line, else the callable's name; with its file and line."""
    name = getattr(condition, "__qualname__", repr(condition))
    code = getattr(condition, "__code__", None)
    if code is None:
        return name
    if name.endswith("<lambda>"):
        with contextlib.suppress(OSError):  # no source file to read: the name and place still say which wait
            name = inspect.getsource(condition).strip()
    return f"{name} ({Path(code.co_filename).name}:{code.co_firstlineno})"


def _short(value: object, limit: int = 500) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
