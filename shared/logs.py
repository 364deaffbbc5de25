"""Log lines that say which pod and which container group they are about.

Every line the worker writes carries `pod=<namespace>/<name> uid=<uid> group=<name>` in its text, so
`traces | where message has "pod=default/web"` finds a pod's whole history in Application Insights
whatever exporter is configured, and the same fields go in `custom_dimensions` for exporters that keep
structured properties. Secrets never reach these fields: only names and uids do.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any


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


def log_with(logger: logging.Logger, level: int, text: str, *args: Any, fields: Mapping[str, str]) -> None:
    """Log `text % args` followed by the fields as key=value pairs, and the fields as custom dimensions."""
    if not logger.isEnabledFor(level):
        return
    suffix = " ".join(f"{key}={value}" for key, value in fields.items())
    logger.log(level, f"{text} [{suffix}]" if suffix else text, *args, extra={"custom_dimensions": dict(fields)})
