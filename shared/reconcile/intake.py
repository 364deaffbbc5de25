"""When the reconciler may (re)start a group-less pod's intake: at most one live message per pod, and not forever.

A pod without a group gets an `upsert` message. The queue worker then owns it: it re-queues on throttling or
transient errors and marks the pod `aci-connector.io/queued-until` with the time the re-queued message is still
in flight, so the reconciler sends nothing meanwhile, on any instance and after any restart (the mark is on the
pod, not in memory). When that time has passed with no group, the chain died (poisoned, given up, lost): the
reconciler starts a new round, counted in `aci-connector.io/intake-rounds`, each round waiting twice as long as
the one before; after MAX_ROUNDS the pod is Failed with the reason instead of being resurrected forever.
Creating the group clears both marks (the worker does it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared import tags
from shared.status import kube_time, parse_time

MAX_ROUNDS = 6
"""Rounds of intake (each a full worker retry chain) before the pod is Failed: about an hour with ROUND_WAIT."""
ROUND_WAIT = 60.0
"""Seconds the first round is given; each later round waits twice as long before the next may start."""
GAVE_UP_REASON = "ProviderUnavailable"

SKIP, ENQUEUE, GIVE_UP = "skip", "enqueue", "give-up"


@dataclass(frozen=True)
class IntakePlan:
    action: str
    rounds: int
    """Rounds started so far, this one included when action is ENQUEUE."""
    marks: dict[str, str]
    """Annotations to write with the enqueue."""


def plan_intake(pod: dict[str, Any], now: datetime) -> IntakePlan:
    """SKIP while a message is in flight (or a round's wait runs); ENQUEUE a new round; GIVE_UP after MAX_ROUNDS."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    until = parse_time(annotations.get(tags.QUEUED_UNTIL_ANNOTATION))
    rounds = _count(annotations.get(tags.ROUNDS_ANNOTATION))
    if until is not None and now < until:
        return IntakePlan(SKIP, rounds, {})
    if rounds >= MAX_ROUNDS:
        return IntakePlan(GIVE_UP, rounds, {})
    wait = ROUND_WAIT * 2.0**rounds
    marks = {
        tags.QUEUED_UNTIL_ANNOTATION: kube_time(now + timedelta(seconds=wait)),
        tags.ROUNDS_ANNOTATION: str(rounds + 1),
    }
    return IntakePlan(ENQUEUE, rounds + 1, marks)


def gave_up_message(pod: dict[str, Any], rounds: int) -> str:
    last = ((pod.get("status") or {}).get("message") or "").strip()
    text = f"no container group after {rounds} rounds of attempts (docs/operations.md, failure modes)"
    return f"{text}; last: {last}"[:1024] if last else text


def _count(text: Any) -> int:
    try:
        return max(0, int(str(text)))
    except ValueError:
        return 0
