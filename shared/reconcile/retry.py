"""What to do with a container group whose provisioningState is Failed: retry it, wait, or give up.

ACI's provisioning fails for reasons that often pass (capacity in the region, a
registry hiccup) and for reasons that do not (an image that does not exist). So a
Failed group is re-deployed a bounded number of times with growing waits, then the
pod is marked Failed with ACI's own words. The attempt count and time live in the
group's tags: the re-PUT writes them atomically with the retry itself, they come
back in every list (no extra read), and they survive process restarts and instance
moves. A group whose containers still run despite Failed is left alone: a re-PUT
would restart them, and Failed does not mean stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.status.times import parse_time

TAG_RETRIES = "aci-connector-retries"
TAG_RETRIED_AT = "aci-connector-retried-at"

RETRY = "retry"
WAIT = "wait"
GIVE_UP = "give-up"
LEAVE = "leave"


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    backoff_seconds: float = 30.0
    """Wait before retry n (1-based): backoff x 2^(n-1) after the previous attempt."""

    def delay(self, attempt: int) -> float:
        return self.backoff_seconds * (2 ** max(0, attempt - 1))


def retries_so_far(group: dict[str, Any]) -> int:
    try:
        return max(0, int((group.get("tags") or {}).get(TAG_RETRIES) or 0))
    except ValueError:
        return 0


def _last_attempt(group: dict[str, Any]) -> datetime | None:
    tags = group.get("tags") or {}
    return parse_time(tags.get(TAG_RETRIED_AT)) or parse_time((group.get("systemData") or {}).get("lastModifiedAt"))


def containers_running(group: dict[str, Any]) -> bool:
    for container in (group.get("properties") or {}).get("containers") or []:
        view = (container.get("properties") or {}).get("instanceView") or {}
        if (view.get("currentState") or {}).get("state") == "Running":
            return True
    return False


def decide(group: dict[str, Any], policy: RetryPolicy, now: datetime | None = None) -> str:
    """RETRY, WAIT, GIVE_UP or LEAVE for a GET body (with instanceView) of a Failed group."""
    if (group.get("properties") or {}).get("provisioningState") != "Failed":
        return LEAVE
    if containers_running(group):
        return LEAVE
    done = retries_so_far(group)
    if done >= policy.max_retries:
        return GIVE_UP
    last = _last_attempt(group)
    moment = now or datetime.now(UTC)
    if last is not None and (moment - last).total_seconds() < policy.delay(done + 1):
        return WAIT
    return RETRY


def retry_tags(group: dict[str, Any], now: datetime | None = None) -> dict[str, str]:
    """The tags the retry PUT adds: the next attempt number and when it was made."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return {TAG_RETRIES: str(retries_so_far(group) + 1), TAG_RETRIED_AT: moment.strftime("%Y-%m-%dT%H:%M:%SZ")}


def failure_message(group: dict[str, Any]) -> str:
    """ACI's latest Warning (group or container level), else a plain statement of the provisioningState."""
    properties = group.get("properties") or {}
    holders = [properties] + [c.get("properties") or {} for c in properties.get("containers") or []]
    warnings: list[dict[str, Any]] = []
    for holder in holders:
        view = holder.get("instanceView")
        if isinstance(view, dict):
            warnings += [e for e in view.get("events") or [] if e.get("type") == "Warning" and e.get("message")]
    if warnings:
        latest = max(warnings, key=lambda e: str(e.get("lastTimestamp") or ""))
        return str(latest["message"])
    return "ACI container group provisioningState is Failed"
