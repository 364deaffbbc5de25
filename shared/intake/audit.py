"""The kube-apiserver audit webhook, as pure logic: authenticate, parse, filter, map to v1 messages.

The apiserver's webhook backend POSTs `audit.k8s.io/v1` EventLists (batches of
up to 400 events by default) and retries, then drops, a batch on any non-2xx
answer. So the rules are: refuse a request as a whole only when the request
itself is wrong (401/405/413/415/400, each with a reason), and otherwise skip a
bad or irrelevant event, count it, and accept the rest.

Kept, and only when the request succeeded (stage ResponseComplete, code < 300):
- pod create, when the pod is (or may be) on one of our nodes;
- `pods/binding` create whose target is one of our nodes (the scheduler binds
  after the create, so this is what announces most of our pods);
- pod delete, and pod update/patch that sets a deletionTimestamp.
Each becomes a reference message (the worker re-reads the pod); one message per
pod per batch, the last event winning.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.errors import InvalidMessage
from shared.messages import Message, PodRef, parse_message, show

log = logging.getLogger("aci_connector.audit")

SOURCE = "audit"
AUDIT_API_VERSIONS = ("audit.k8s.io/v1", "audit.k8s.io/v1beta1")
JSON_MEDIA_TYPES = ("application/json",)


class AuditRejected(Exception):
    """The request as a whole is refused: HTTP `status` with a reason the sender can act on."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class AuditOutcome:
    """What one webhook call produced: messages to enqueue and counts for the answer and the logs."""

    messages: list[Message] = field(default_factory=list)
    events: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        return {"events": self.events, "enqueued": len(self.messages), "skipped": dict(sorted(self.skipped.items()))}


@dataclass(frozen=True)
class AuditResponse:
    status: int
    body: dict[str, Any]
    texts: list[str]
    headers: dict[str, str] = field(default_factory=dict)


# -- request level ---------------------------------------------------------------------------------------------------


def authenticate(headers: Mapping[str, str], token: str) -> None:
    """Require `Authorization: Bearer <AUDIT_BEARER_TOKEN>`; with no token configured every request is refused."""
    if not token:
        raise AuditRejected(401, "audit webhook disabled: AUDIT_BEARER_TOKEN is not set")
    scheme, _, presented = (_header(headers, "Authorization") or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), token.encode()):
        raise AuditRejected(401, "missing or wrong bearer token")


def check_request(method: str, headers: Mapping[str, str], body: bytes, max_bytes: int) -> None:
    """Refuse what is not an audit POST before spending time on it: 405, 413, 415."""
    if method.upper() != "POST":
        raise AuditRejected(405, f"method {method} not allowed: the audit webhook takes POST")
    declared = _header(headers, "Content-Length")
    if (declared and declared.isascii() and declared.isdigit() and int(declared) > max_bytes) or len(body) > max_bytes:
        raise AuditRejected(413, f"body larger than {max_bytes} bytes: lower --audit-webhook-batch-max-size")
    media = (_header(headers, "Content-Type") or "").split(";", 1)[0].strip().lower()
    if media not in JSON_MEDIA_TYPES:
        raise AuditRejected(415, f"content type {media or '(none)'} not supported: send application/json")


def parse_events(body: bytes) -> list[Any]:
    """The events of an audit EventList (or of a single Event); 400 when the body is not one."""
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise AuditRejected(400, "body is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise AuditRejected(400, f"body is not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise AuditRejected(400, "body is nested too deeply to be an audit EventList") from None
    except ValueError as error:  # an integer with more digits than Python converts
        raise AuditRejected(400, f"body is not usable JSON: {str(error).split(';')[0]}") from None
    if not isinstance(data, dict):
        raise AuditRejected(400, f"expected an audit EventList object, got a JSON {type(data).__name__}")
    api_version, kind = data.get("apiVersion"), data.get("kind")
    if api_version not in AUDIT_API_VERSIONS:
        raise AuditRejected(400, f"apiVersion {show(api_version)} is not one of {', '.join(AUDIT_API_VERSIONS)}")
    if kind == "Event":
        return [data]
    if kind != "EventList":
        raise AuditRejected(400, f"kind {show(kind)}: expected EventList")
    items = data.get("items")
    if items is None:
        return []
    if not isinstance(items, list):
        raise AuditRejected(400, "field items: expected a list of audit events")
    return items


# -- event level -----------------------------------------------------------------------------------------------------


def messages_from_events(events: Iterable[Any], nodes: Iterable[str]) -> AuditOutcome:
    """Filter and map events; never raises for one bad event (it is skipped and counted)."""
    ours = frozenset(nodes)
    outcome = AuditOutcome()
    by_pod: dict[tuple[str, str], Message] = {}
    for event in events:
        outcome.events += 1
        try:
            message, reason = message_from_event(event, ours)
        except (AttributeError, TypeError, ValueError, KeyError) as error:  # a malformed event: skip and count it
            message, reason = None, "malformed"
            log.warning("audit event skipped, malformed: %s: %s", type(error).__name__, error)
        if message is None or message.pod is None:
            outcome.skipped[reason] += 1
            continue
        key = (message.pod.namespace, message.pod.name)
        if key in by_pod:
            del by_pod[key]  # the later event wins and takes the later place
            outcome.skipped["duplicate pod in batch"] += 1
        by_pod[key] = message
    outcome.messages = list(by_pod.values())
    return outcome


def message_from_event(event: Any, nodes: frozenset[str]) -> tuple[Message | None, str]:
    """One event to (message, "") or (None, why it was skipped)."""
    if not isinstance(event, dict):
        return None, "malformed"
    if event.get("stage") != "ResponseComplete":
        return None, "not ResponseComplete"
    code = (event.get("responseStatus") or {}).get("code")
    if not isinstance(code, int) or not 200 <= code < 300:
        return None, "request failed"
    ref = event.get("objectRef")
    if not isinstance(ref, dict) or ref.get("resource") != "pods" or ref.get("apiGroup") not in (None, ""):
        return None, "not a pod"
    kind = _kind_of(event, ref.get("subresource") or "")
    if kind is None:
        return None, "verb not relayed"
    node, known = _node_of(event, kind)
    if kind == "binding" and not node:
        return None, "binding without target (needs level Request)"
    if known and node not in nodes:
        return None, "not our node" if node else "not scheduled yet"
    return _message(event, ref, "delete" if kind == "delete" else "upsert", node)


def _kind_of(event: dict[str, Any], subresource: str) -> str | None:
    verb = event.get("verb")
    if verb == "create":
        # An eviction (kubectl drain, the descheduler) is a graceful delete by another name.
        return {"": "create", "binding": "binding", "eviction": "delete"}.get(subresource)
    if subresource:
        return None
    if verb == "delete":
        return "delete"
    if verb in ("update", "patch") and _sets_deletion_timestamp(event):
        return "delete"
    return None


def _sets_deletion_timestamp(event: dict[str, Any]) -> bool:
    """The response object (RequestResponse level) or the request body (Request level) carries a deletionTimestamp."""
    for obj in (event.get("responseObject"), event.get("requestObject")):
        if isinstance(obj, dict) and ((obj.get("metadata") or {}).get("deletionTimestamp")):
            return True
        if isinstance(obj, list):  # a JSON patch
            for op in obj:
                if (
                    isinstance(op, dict)
                    and op.get("op") in ("add", "replace")
                    and op.get("path") == "/metadata/deletionTimestamp"
                ):
                    return True
    return False


def _pod_object(event: dict[str, Any]) -> dict[str, Any] | None:
    """The Pod the event carries, if the audit level recorded one (a delete may answer with a Status instead)."""
    for name in ("responseObject", "requestObject"):
        obj = event.get(name)
        if isinstance(obj, dict) and obj.get("kind") == "Pod":
            return obj
    return None


def _node_of(event: dict[str, Any], kind: str) -> tuple[str | None, bool]:
    """(node, known): the pod's node if the event tells; known=False when the level recorded no object."""
    if kind == "binding":
        request = event.get("requestObject")
        target = (request.get("target") or {}).get("name") if isinstance(request, dict) else None
        return (target if isinstance(target, str) and target else None), True
    pod = _pod_object(event)
    if pod is None:
        return None, False
    node = (pod.get("spec") or {}).get("nodeName")
    return (node if isinstance(node, str) and node else None), True


def _message(event: dict[str, Any], ref: dict[str, Any], op: str, node: str | None) -> tuple[Message | None, str]:
    pod = _pod_object(event) or {}
    metadata = pod.get("metadata") or {}
    request = event.get("requestObject")
    binding_meta = (
        (request.get("metadata") or {}) if isinstance(request, dict) and request.get("kind") == "Binding" else {}
    )
    name = ref.get("name") or metadata.get("name")
    namespace = ref.get("namespace") or metadata.get("namespace")
    if not name or not namespace:
        return None, "pod name unknown (generateName at level Metadata)"
    uid = metadata.get("uid") or binding_meta.get("uid") or ref.get("uid")
    message = Message(
        op=op,
        pod=PodRef(str(namespace), str(name), str(uid) if uid else None),
        source=SOURCE,
        node=node,
        resource_version=metadata.get("resourceVersion") or None,
    )
    try:
        parse_message(message.to_text())  # the worker must be able to read what we enqueue
    except InvalidMessage as error:
        return None, f"invalid {error.field or 'message'}"
    return message, ""


# -- the whole call --------------------------------------------------------------------------------------------------


def handle_audit_request(
    method: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    token: str,
    nodes: Iterable[str],
    max_bytes: int,
) -> AuditResponse:
    """Authenticate, check, parse and map one webhook call; every outcome is an answer, never an exception."""
    try:
        authenticate(headers, token)
        check_request(method, headers, body, max_bytes)
        events = parse_events(body)
    except AuditRejected as rejected:
        log.warning("audit webhook request refused (%d): %s", rejected.status, rejected.reason)
        extra = {"WWW-Authenticate": 'Bearer realm="aci-connector-audit"'} if rejected.status == 401 else {}
        return AuditResponse(rejected.status, {"error": rejected.reason}, [], extra)
    outcome = messages_from_events(events, nodes)
    if outcome.skipped:
        log.info("audit batch: %s", outcome.summary())
    return AuditResponse(200, outcome.summary(), [message.to_text() for message in outcome.messages])


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Header lookup that does not depend on the mapping being case-insensitive."""
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value
