"""Kubernetes timestamps: parse what ACI and Kubernetes write, format as the API server does."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any


def parse_time(value: Any) -> datetime | None:
    """Parse an ARM or Kubernetes timestamp; ARM uses 0-7 fraction digits, 'Z' or '+00:00'."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python accepts at most 6 fraction digits; ARM sends up to 7 (".9155248").
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def kube_time(value: datetime) -> str:
    """Format as metav1.Time does: whole seconds, UTC, 'Z'.

    The API server truncates sub-second precision; emitting ARM's milliseconds would
    make every comparison with the stored status differ and patch forever.
    """
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _kube_time_of(value: Any) -> str | None:
    parsed = parse_time(value)
    return kube_time(parsed) if parsed else None


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _sort_key(text: str) -> datetime:
    return parse_time(text) or datetime.max.replace(tzinfo=UTC)


_TIME_KEYS = frozenset({"lastTransitionTime", "lastProbeTime", "startTime", "startedAt", "finishedAt"})


def _truncate_times(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _truncate_times(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_truncate_times(v) for v in value]
    if key in _TIME_KEYS and isinstance(value, str):
        parsed = parse_time(value)
        return kube_time(parsed) if parsed else value
    return value
