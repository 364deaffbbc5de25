"""Exceptions shared by the connector, grouped by what the caller must do about them.

The split matters more than the names: a `PermanentError` marks the pod Failed
or dead-letters the message; a `RetryableError` re-queues it; anything else is
a bug and lets the Functions host retry and, at last, poison the message.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every error the connector raises on purpose."""


class ConfigError(ConnectorError, ValueError):
    """A setting is missing or malformed; the message names the setting."""


class InvalidMessage(ConnectorError, ValueError):
    """A queue message can never be processed; the message names the bad field."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PermanentError(ConnectorError):
    """Retrying cannot help: the pod is marked Failed with this reason and message."""

    reason = "ProviderFailed"


class UnsupportedPodSpec(PermanentError, ValueError):
    """The pod asks for something ACI cannot run as specified; the message names the field path."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ReferenceForbidden(PermanentError):
    """The connector may not read a Secret or ConfigMap the pod references (403): fix RBAC, then re-create the pod."""

    reason = "ReferenceForbidden"


class RetryableError(ConnectorError):
    """Try again later; `retry_after` (seconds) says when, if the server said."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ThrottledError(RetryableError):
    """ARM answered 429 or an ACI quota is exhausted: wait, do not count it as a failure."""


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None when absent or unreadable.

    The one parser for ARM, Kubernetes and registries: azure-core's, the one the ARM SDK's own retries use,
    imported on first use so that importing this module stays free.
    """
    if value is None or not str(value).strip():
        return None
    from azure.core.pipeline.policies import RetryPolicy

    try:
        return max(0.0, float(RetryPolicy.parse_retry_after(RetryPolicy(), str(value).strip())))
    except (ValueError, TypeError, OverflowError):
        return None
