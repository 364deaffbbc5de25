"""Log lines that say which pod and which container group they are about.

Every line the worker writes ends with `[pod=<namespace>/<name> uid=<uid> group=<name>]`: the fields live in the
message text because the text is all that reaches Application Insights. The Python worker forwards a `logging`
record to the Functions host as an RpcLog of level, logger name, invocation id and the *formatted message* only
(azure-functions-python-worker, `Dispatcher.on_logging`); `extra=` attributes are dropped on the way, so the
OpenCensus-era `custom_dimensions` extra never became customDimensions. KQL reads the fields back with
`extract(FIELD_PATTERN)` (docs/operations.md). Values are names and uids only (DNS labels, never spaces or `]`):
secrets never reach these fields.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

FIELD_PATTERN = r"{key}=([^ \]]+)"
r"""How a query finds one field in a message (KQL `extract(@"pod=([^ \]]+)", 1, message)`, Python `re` alike)."""


def subject_fields(
    pod: Mapping[str, Any] | None = None,
    *,
    namespace: str | None = None,
    name: str | None = None,
    uid: str | None = None,
    group: str | None = None,
) -> dict[str, str]:
    """The identifying fields of a log line, from a pod object and/or explicit values."""
    metadata = (pod or {}).get("metadata") or {}
    namespace = namespace or metadata.get("namespace") or ("default" if metadata.get("name") else None)
    name = name or metadata.get("name")
    uid = uid or metadata.get("uid")
    fields: dict[str, str] = {}
    if name:
        fields["pod"] = f"{namespace}/{name}"
    if uid:
        fields["uid"] = uid
    if group:
        fields["group"] = group
    return fields


def _value(value: Any) -> str:
    """One token: lists joined by commas, spaces made underscores, so `extract` finds the whole value."""
    text = ",".join(map(str, value)) if isinstance(value, list | tuple | set) else str(value)
    return text.replace(" ", "_").replace("]", ")")


def with_fields(text: str, fields: Mapping[str, Any]) -> str:
    """`text [k=v k=v]`: the fields where Application Insights keeps them (the message), empty ones left out."""
    suffix = " ".join(f"{key}={_value(value)}" for key, value in fields.items() if value not in ("", None, []))
    return f"{text} [{suffix}]" if suffix else text


def log_with(logger: logging.Logger, level: int, text: str, *args: Any, fields: Mapping[str, str]) -> None:
    """Log `text % args` followed by the fields as key=value pairs in the message."""
    if not logger.isEnabledFor(level):
        return
    logger.log(level, with_fields(text, fields), *args)
