"""Message schema v1: validation names the bad field, encoding stays under the queue's 64 KiB."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.errors import InvalidMessage
from shared.messages import (
    MAX_MESSAGE_BYTES,
    SAFE_MESSAGE_BYTES,
    Message,
    PodRef,
    parse_message,
    trim_manifest,
    upsert,
    wire_bytes,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _pod() -> dict:
    return json.loads((FIXTURES / "k8s-pods" / "pod-running.gke.k9s-p1.json").read_text())


def test_round_trip_keeps_every_field():
    message = Message(
        op="upsert",
        pod=PodRef("default", "web", "uid-1"),
        source="watch",
        node="aci-connector-linux",
        resource_version="42",
        ts="2026-11-27T10:00:00Z",
        attempt=2,
    )
    assert parse_message(message.to_text()) == message


def test_sync_may_name_only_a_group():
    message = parse_message('{"v":1,"op":"sync","source":"eventgrid","group":"default-web-abc123"}')
    assert message.pod is None
    assert message.group == "default-web-abc123"


def test_inline_manifest_provides_the_pod_reference():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": {"containers": [{"name": "c"}]}}
    message = parse_message(json.dumps({"v": 1, "op": "upsert", "source": "cli", "manifest": pod}))
    assert message.pod == PodRef("default", "web", None)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("not json", None),
        ("[1, 2]", None),
        ('{"v": 2, "op": "upsert", "source": "cli", "pod": {"namespace": "a", "name": "b"}}', "v"),
        ('{"op": "upsert", "source": "cli", "pod": {"namespace": "a", "name": "b"}}', "v"),
        ('{"v": 1, "op": "create", "source": "cli", "pod": {"namespace": "a", "name": "b"}}', "op"),
        ('{"v": 1, "op": "upsert", "source": "kubectl", "pod": {"namespace": "a", "name": "b"}}', "source"),
        ('{"v": 1, "op": "upsert", "source": "cli"}', "pod"),
        ('{"v": 1, "op": "upsert", "source": "cli", "pod": {"namespace": "a"}}', "pod.name"),
        ('{"v": 1, "op": "upsert", "source": "cli", "pod": {"namespace": "A_B", "name": "b"}}', "pod.namespace"),
        ('{"v": 1, "op": "upsert", "source": "cli", "pod": {"namespace": "a", "name": "b", "x": 1}}', "pod.x"),
        ('{"v": 1, "op": "upsert", "source": "cli", "pod": {"namespace": "a", "name": "b"}, "extra": 1}', "extra"),
        ('{"v": 1, "op": "upsert", "source": "cli", "pod": {"namespace": "a", "name": "b"}, "ts": "yesterday"}', "ts"),
        ('{"v": 1, "op": "upsert", "source": "cli", "pod": {"namespace": "a", "name": "b"}, "attempt": -1}', "attempt"),
        ('{"v": 1, "op": "upsert", "source": "cli", "manifest": {"kind": "Service"}}', "manifest.kind"),
        (
            '{"v": 1, "op": "upsert", "source": "cli", "pod": {"namespace": "a", "name": "b"},'
            ' "manifest": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "c", "namespace": "a"},'
            ' "spec": {"containers": [{"name": "x"}]}}}',
            "manifest.metadata",
        ),
        ('{"v": 1, "op": "sync", "source": "eventgrid", "group": "Bad_Name"}', "group"),
    ],
)
def test_invalid_messages_name_the_field(text, field):
    with pytest.raises(InvalidMessage) as raised:
        parse_message(text)
    assert raised.value.field == field
    if field:
        assert f"field {field}" in str(raised.value)


def test_non_utf8_bytes_are_invalid():
    with pytest.raises(InvalidMessage, match="UTF-8"):
        parse_message(b"\xff\xfe{")


def test_trim_drops_managed_fields_last_applied_and_status():
    pod = _pod()
    pod["metadata"]["managedFields"] = [{"manager": "kubectl"}]
    pod["metadata"].setdefault("annotations", {})["kubectl.kubernetes.io/last-applied-configuration"] = "{}"
    trimmed = trim_manifest(pod)
    assert "managedFields" not in trimmed["metadata"]
    assert "kubectl.kubernetes.io/last-applied-configuration" not in trimmed["metadata"].get("annotations", {})
    assert "status" not in trimmed
    assert pod["metadata"]["managedFields"]  # the caller's object is untouched


def test_oversized_manifest_is_trimmed_first_then_replaced_by_a_reference():
    pod = _pod()
    pod["metadata"]["managedFields"] = [{"manager": "x" * 70_000}]
    text = upsert(pod, source="cli", inline=True).to_text()
    assert len(text.encode()) <= MAX_MESSAGE_BYTES
    assert parse_message(text).manifest is not None  # trimming was enough
    pod["spec"]["containers"][0]["env"] = [{"name": f"V{i}", "value": "y" * 1000} for i in range(80)]
    text = upsert(pod, source="cli", inline=True).to_text()
    parsed = parse_message(text)
    assert len(text.encode()) <= MAX_MESSAGE_BYTES
    assert parsed.manifest is None
    assert parsed.manifest_omitted is True
    assert parsed.pod == PodRef(pod["metadata"]["namespace"], pod["metadata"]["name"], pod["metadata"]["uid"])


def test_manifest_size_is_counted_after_xml_escaping():
    """50 KB of `&` is 250 KB on the wire (`&amp;`): under the limit as UTF-8, far over it as Storage counts."""
    pod = _pod()
    pod["spec"]["containers"][0]["env"] = [{"name": "QUERY", "value": "&" * 50_000}]
    text = upsert(pod, source="cli", inline=True).to_text()
    assert len(text.encode()) <= SAFE_MESSAGE_BYTES
    assert wire_bytes(text) <= SAFE_MESSAGE_BYTES
    assert parse_message(text).manifest_omitted is True
