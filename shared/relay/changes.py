"""Which pod changes deserve a message: the pure decision core of the relay.

The relay remembers, per pod on its node, a fingerprint of what the worker acts
on (uid, spec, whether deletion started, annotations but the connector's own). A
watch event or a relist entry whose fingerprint is unchanged is a status-only change
(for instance the connector's own status patch, which also carries its
spec-hash annotation) and is not relayed: relaying it would feed the worker's own
writes back to it in a loop. resourceVersion changes on every write, status
included, so it cannot serve; spec hashing works on every Kubernetes version
(pod metadata.generation only tracks spec changes from 1.33 on).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from shared.messages import Message, PodRef, delete, upsert
from shared.tags import CONNECTOR_ANNOTATIONS

SOURCE = "watch"

PodKey = tuple[str, str]
"""(namespace, name): how the relay indexes what it knows."""
MessageKey = tuple[str, str, str]
"""(namespace, name, uid): one pod incarnation, the unit of coalescing and buffering."""


@dataclass(frozen=True)
class PodState:
    """What the relay last relayed for one pod."""

    uid: str
    fingerprint: str
    node: str | None


def pod_key(pod: dict[str, Any]) -> PodKey:
    metadata = pod.get("metadata") or {}
    return (metadata.get("namespace") or "default", metadata.get("name") or "")


def message_key(message: Message) -> MessageKey:
    assert message.pod is not None  # relay messages always name a pod
    return (message.pod.namespace, message.pod.name, message.pod.uid or "")


def fingerprint(pod: dict[str, Any]) -> str:
    """A digest of what the worker acts on: spec (node binding included), whether deletion started, and
    annotations (they choose ACI options) except the connector's own. Status, labels and resourceVersion are
    left out: the group is built from none of them, and the connector's status patches must not come back as
    messages. Only whether deletion started counts, not its timestamp: a grace-0 delete of a terminating pod
    moves deletionTimestamp (the apiserver writes a MODIFIED before the DELETED), and the worker's delete is
    the same."""
    metadata = pod.get("metadata") or {}
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if k not in CONNECTOR_ANNOTATIONS}
    relevant = {
        "spec": pod.get("spec"),
        "deleting": bool(metadata.get("deletionTimestamp")),
        "annotations": annotations,
    }
    encoded = json.dumps(relevant, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.blake2b(encoded, digest_size=12).hexdigest()


def state_of(pod: dict[str, Any]) -> PodState:
    return PodState(
        uid=(pod.get("metadata") or {}).get("uid") or "",
        fingerprint=fingerprint(pod),
        node=(pod.get("spec") or {}).get("nodeName"),
    )


def message_for_present(pod: dict[str, Any]) -> Message:
    """A pod being deleted (deletionTimestamp set) is a delete; otherwise an upsert."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return delete(pod, source=SOURCE)
    return upsert(pod, source=SOURCE)


def on_present(known: dict[PodKey, PodState], pod: dict[str, Any]) -> Message | None:
    """ADDED or MODIFIED: a message when the pod is new to us or what the worker acts on changed."""
    key = pod_key(pod)
    state = state_of(pod)
    if known.get(key) == state:
        return None
    known[key] = state
    return message_for_present(pod)


def on_deleted(known: dict[PodKey, PodState], pod: dict[str, Any]) -> Message:
    """DELETED (removed, or no longer on our node): always a delete, and we forget the pod."""
    known.pop(pod_key(pod), None)
    return delete(pod, source=SOURCE)


def forgotten(key: PodKey, state: PodState) -> Message:
    """A delete for a pod we knew but a relist no longer shows (its DELETED fell into a 410 gap)."""
    namespace, name = key
    return Message(op="delete", pod=PodRef(namespace, name, state.uid or None), source=SOURCE, node=state.node)


def relist_diff(
    known: dict[PodKey, PodState], pods: list[dict[str, Any]]
) -> tuple[dict[PodKey, PodState], list[Message]]:
    """What changed between our last known state and a fresh list: only those differences become messages.

    A pod whose uid changed (deleted and re-created under the same name while
    we were blind) yields a delete for the old incarnation and an upsert for
    the new one; they have different message keys, so neither hides the other.
    """
    fresh: dict[PodKey, PodState] = {}
    messages: list[Message] = []
    listed = {pod_key(pod): pod for pod in pods}
    for key, state in known.items():
        current = listed.get(key)
        if current is None or state_of(current).uid != state.uid:
            messages.append(forgotten(key, state))
    for key, pod in listed.items():
        state = state_of(pod)
        fresh[key] = state
        if known.get(key) != state:
            messages.append(message_for_present(pod))
    return fresh, messages
