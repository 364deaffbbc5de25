"""Node builders: labels, taint parsing, honest conditions, and when a write is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import kubernetes_validate
import pytest

from shared.node import (
    READY,
    Readiness,
    build_node,
    metadata_patch,
    node_conditions,
    parse_taint,
    status_patch,
)

T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
CAP = {"cpu": "10000", "memory": "4Ti", "pods": "5000", "ephemeral-storage": "100Ti"}


def node(readiness: Readiness = READY, now: datetime = T0, current: dict | None = None) -> dict:
    return build_node(
        os_name="linux",
        node_name="aci-connector-linux",
        taint="virtual-kubelet.io/provider=azure:NoSchedule",
        capacity=CAP,
        allocatable=CAP,
        readiness=readiness,
        now=now,
        current=current,
    )


def test_node_validates_against_the_kubernetes_schema():
    kubernetes_validate.validate(node(), "1.30", strict=True)


def test_taints_parse_like_kubectl():
    assert parse_taint("virtual-kubelet.io/provider=azure:NoSchedule") == {
        "key": "virtual-kubelet.io/provider",
        "value": "azure",
        "effect": "NoSchedule",
    }
    assert parse_taint("azure.com/aci:NoSchedule") == {"key": "azure.com/aci", "effect": "NoSchedule"}
    with pytest.raises(ValueError, match="Effect"):
        parse_taint("azure.com/aci")


def test_transition_time_moves_only_on_a_flip():
    first = node_conditions(READY, T0)
    later = node_conditions(READY, T0 + timedelta(minutes=3), first)
    ready = next(c for c in later if c["type"] == "Ready")
    assert ready["lastTransitionTime"] == "2025-01-01T12:00:00Z"
    assert ready["lastHeartbeatTime"] == "2025-01-01T12:03:00Z"
    down = node_conditions(Readiness(False, "AciUnreachable", "x"), T0 + timedelta(minutes=4), later)
    ready = next(c for c in down if c["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["lastTransitionTime"]) == (
        "False",
        "AciUnreachable",
        "2025-01-01T12:04:00Z",
    )
    pressure = next(c for c in down if c["type"] == "MemoryPressure")
    assert pressure["lastTransitionTime"] == "2025-01-01T12:00:00Z"


def test_status_written_on_change_or_after_five_minutes_only():
    stored = node()
    assert (
        status_patch(stored, node(now=T0 + timedelta(seconds=10), current=stored), now=T0 + timedelta(seconds=10))
        is None
    )
    later = T0 + timedelta(minutes=5)
    assert status_patch(stored, node(now=later, current=stored), now=later) is not None
    flipped = node(Readiness(False, "AciUnreachable", "down"), now=T0 + timedelta(seconds=10), current=stored)
    patch = status_patch(stored, flipped, now=T0 + timedelta(seconds=10))
    assert patch is not None and patch["status"]["conditions"][0]["status"] == "False"
    bigger = dict(stored, status={**stored["status"], "capacity": {**CAP, "pods": "100"}})
    assert status_patch(bigger, node(now=T0, current=bigger), now=T0) is not None


def test_metadata_patch_adds_ours_and_keeps_theirs():
    desired = node()
    assert metadata_patch(desired, desired) is None
    current = {
        "metadata": {"labels": {"team": "x", "type": "other"}},
        "spec": {"taints": [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]},
    }
    patch = metadata_patch(current, desired)
    assert patch["metadata"]["labels"]["type"] == "virtual-kubelet"
    assert "team" not in patch["metadata"]["labels"]  # merge patch: untouched labels stay
    assert patch["spec"]["taints"] == [
        {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
        {"key": "virtual-kubelet.io/provider", "value": "azure", "effect": "NoSchedule"},
    ]
