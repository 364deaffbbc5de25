"""Provisioning retry decisions, ARM health -> readiness, and which pods count as settled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.errors import ConfigError, RetryableError
from shared.reconcile import had_group, is_settled
from shared.reconcile.health import AciHealth
from shared.reconcile.retry import (
    GIVE_UP,
    LEAVE,
    RETRY,
    TAG_RETRIED_AT,
    TAG_RETRIES,
    WAIT,
    RetryPolicy,
    decide,
    failure_message,
    retry_tags,
)

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def failed(tags: dict | None = None, running: bool = False, events: list | None = None) -> dict:
    state = {"state": "Running"} if running else {"state": "Waiting"}
    return {
        "tags": tags or {},
        "properties": {
            "provisioningState": "Failed",
            "containers": [
                {"name": "c", "properties": {"instanceView": {"currentState": state, "events": events or []}}}
            ],
        },
    }


def test_retry_wait_give_up():
    policy = RetryPolicy(max_retries=2, backoff_seconds=30)
    assert decide(failed(), policy, NOW) == RETRY
    tags = retry_tags(failed(), NOW)
    assert tags == {TAG_RETRIES: "1", TAG_RETRIED_AT: "2025-01-01T12:00:00Z"}
    assert decide(failed(tags), policy, NOW + timedelta(seconds=59)) == WAIT  # retry 2 waits 60 s
    assert decide(failed(tags), policy, NOW + timedelta(seconds=60)) == RETRY
    assert decide(failed({TAG_RETRIES: "2"}), policy, NOW) == GIVE_UP
    assert decide(failed({TAG_RETRIES: "junk"}), policy, NOW) == RETRY


def test_failed_but_running_is_left_alone_and_succeeded_too():
    assert decide(failed(running=True), RetryPolicy(), NOW) == LEAVE
    assert decide({"properties": {"provisioningState": "Succeeded"}}, RetryPolicy(), NOW) == LEAVE


def test_failure_message_is_acis_latest_warning():
    events = [
        {"type": "Warning", "message": "old", "lastTimestamp": "2025-01-01T10:00:00Z"},
        {"type": "Warning", "message": "Failed to pull image x", "lastTimestamp": "2025-01-01T11:00:00Z"},
        {"type": "Normal", "message": "Pulling", "lastTimestamp": "2025-01-01T11:30:00Z"},
    ]
    assert failure_message(failed(events=events)) == "Failed to pull image x"
    assert failure_message(failed()) == "ACI container group provisioningState is Failed"


def test_health_needs_consecutive_failures_over_time():
    now = [0.0]
    health = AciHealth(unready_after_cycles=3, unready_after_seconds=30, clock=lambda: now[0])
    for _ in range(3):
        health.failure(RetryableError("ARM unreachable"))
        now[0] += 10
    assert health.readiness().ready is False
    assert health.readiness().reason == "AciUnreachable"
    health.success()
    assert health.readiness().ready
    health = AciHealth(unready_after_cycles=1, unready_after_seconds=0, clock=lambda: now[0])
    health.failure(ConfigError("no Azure credential is available"))
    assert health.readiness().reason == "AciAuthenticationFailed"


def test_settled_and_had_group():
    group = {"properties": {"provisioningState": "Succeeded"}}
    running = {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    assert is_settled(running, group)
    assert not is_settled({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}}, group)
    assert not is_settled(running, {"properties": {"provisioningState": "Updating"}})
    assert not had_group({"status": {"phase": "Pending"}})
    assert had_group({"status": {"containerStatuses": [{"name": "c"}]}})
