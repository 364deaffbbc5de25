"""One invocation as the Functions host runs it: an id, output bindings, and console lines that carry the id.

`Executing 'Functions.<name>' (Reason=..., Id=...)` and `Executed ... (Succeeded|Failed,
Id=..., Duration=...ms)` frame every invocation as in `func start`; every log record
emitted while the function runs (in its thread) is prefixed with the function name and
the invocation id, so concurrent invocations can be told apart.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.localhost.index import FunctionSpec

log = logging.getLogger("localhost")
_current: contextvars.ContextVar[str] = contextvars.ContextVar("invocation", default="")


class InvocationFormatter(logging.Formatter):
    """`[2026-01-01T10:00:00.123Z] [pod_events 0f3c...] message`, the host's console shape plus the id."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        where = getattr(record, "invocation", "") or _current.get()
        prefix = f"[{stamp}] " + (f"[{where}] " if where else "")
        text = super().format(record)
        return "\n".join(prefix + line for line in text.splitlines() or [""])


def configure_console(level: str = "INFO") -> None:
    """Console logging for the local host and the app's own loggers."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(InvocationFormatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper() if isinstance(level, str) else level)
    for noisy in ("azure.core.pipeline.policies.http_logging_policy", "azure.identity", "urllib3", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class Out:
    """An output binding value (`func.Out[T]`): the function sets it, the host writes it after success."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, value: Any) -> None:
        self._value = value

    def get(self) -> Any:
        return self._value


@dataclass
class Context:
    """What `context: func.Context` gives a function: its invocation id and name."""

    invocation_id: str
    function_name: str
    function_directory: str = ""
    trace_context: Any = None
    retry_context: Any = None
    thread_local_storage: Any = None


@dataclass
class Result:
    invocation_id: str
    value: Any = None
    error: BaseException | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.error is None


OutputWriter = Callable[[dict[str, Any], Any], None]


def invoke(
    spec: FunctionSpec,
    trigger_value: Any,
    *,
    reason: str,
    write_output: OutputWriter | None = None,
) -> Result:
    """Run the user function with its trigger and output bindings; failures are logged, never raised."""
    invocation_id = str(uuid.uuid4())
    label = f"Functions.{spec.name}"
    token = _current.set(f"{spec.name} {invocation_id}")
    started = time.monotonic()
    result = Result(invocation_id)
    try:
        log.info("Executing '%s' (Reason='%s', Id=%s)", label, reason, invocation_id)
        outs = {b["name"]: Out() for b in spec.outputs if b["name"] != "$return"}
        kwargs: dict[str, Any] = {spec.trigger["name"]: trigger_value, **outs}
        if "context" in inspect.signature(spec.function).parameters:
            kwargs["context"] = Context(invocation_id, spec.name)
        try:
            result.value = spec.function(**kwargs)
            for binding in spec.outputs:
                value = result.value if binding["name"] == "$return" else outs[binding["name"]].get()
                result.outputs[binding["name"]] = value
                if value is not None and write_output is not None and binding["type"] != "http":
                    write_output(binding, value)
        except Exception as error:  # the host reports the failure and applies the trigger's retry rules
            result.error = error
            log.error("Executed '%s' (Failed, Id=%s): %s: %s", label, invocation_id, type(error).__name__, error)
            log.debug("traceback", exc_info=error)
        result.duration_ms = int((time.monotonic() - started) * 1000)
        if result.ok:
            log.info("Executed '%s' (Succeeded, Id=%s, Duration=%dms)", label, invocation_id, result.duration_ms)
        return result
    finally:
        _current.reset(token)
