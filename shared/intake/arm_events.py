"""Resource-group system-topic events in, `sync` hints out: status refreshes the moment ARM says something changed.

Event Grid delivers ARM's ResourceWrite/Delete/Action Success, Failure and Cancel events for
everything in the resource group, in the Event Grid schema or the CloudEvents 1.0 schema
(whichever the subscription chose). Only container groups matter here, and only as a hint:
the worker re-reads the group and the pod, so a duplicate, late or reordered event is harmless.

Pure: no I/O, no azure.functions import. `event_as_dict` accepts the objects the Functions
worker hands to an Event Grid trigger (func.EventGridEvent / func.CloudEvent) by duck typing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.messages import Message

RESOURCE_EVENT_PREFIX = "Microsoft.Resources."
HANDLED_KINDS = frozenset(
    f"Resource{verb}{outcome}" for verb in ("Write", "Delete", "Action") for outcome in ("Success", "Failure", "Cancel")
)
"""The nine resource-group event types that can change a container group (or say a change did not happen)."""

_GROUP_PATH = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
    r"/providers/Microsoft\.ContainerInstance/containerGroups/(?P<name>[^/]+)(?:/.*)?$",
    re.IGNORECASE,
)
_GROUP_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class MalformedEvent(ValueError):
    """The event is not a well-formed resource event in either schema."""


@dataclass(frozen=True)
class ArmEvent:
    """What both schemas carry that matters here."""

    id: str
    type: str
    subject: str
    schema: str
    """"eventgrid" or "cloudevents"."""
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Decision:
    """What to do with one event: a sync `message`, or None and why not."""

    message: Message | None
    reason: str
    group: str | None = None


def event_as_dict(event: Any) -> dict[str, Any]:
    """The wire JSON of an event object from the Functions worker, or a dict passed through."""
    if isinstance(event, Mapping):
        return dict(event)
    if hasattr(event, "specversion"):  # func.CloudEvent: azure-functions 1.26 decodes CloudEvents to this
        return {
            "specversion": event.specversion,
            "id": event.id,
            "source": event.source,
            "type": event.type,
            "subject": event.subject,
            "data": event.get_json(),
        }
    if hasattr(event, "event_type"):  # func.EventGridEvent
        return {
            "id": event.id,
            "topic": event.topic,
            "subject": event.subject,
            "eventType": event.event_type,
            "dataVersion": event.data_version,
            "data": event.get_json(),
        }
    raise MalformedEvent(f"not an Event Grid or CloudEvents event: {type(event).__name__}")


def parse_event(raw: Mapping[str, Any]) -> ArmEvent:
    """Read either schema; MalformedEvent names what is missing."""
    if not isinstance(raw, Mapping):
        raise MalformedEvent(f"event must be a JSON object, got {type(raw).__name__}")
    if "specversion" in raw:
        schema, type_key = "cloudevents", "type"
        if raw.get("specversion") != "1.0":
            raise MalformedEvent(f"unsupported CloudEvents specversion {raw.get('specversion')!r}")
    elif "eventType" in raw:
        schema, type_key = "eventgrid", "eventType"
    else:
        raise MalformedEvent("neither CloudEvents (specversion) nor Event Grid schema (eventType)")
    event_type, subject, data = raw.get(type_key), raw.get("subject"), raw.get("data")
    if not isinstance(event_type, str) or not event_type:
        raise MalformedEvent(f"field {type_key}: required string")
    if subject is not None and not isinstance(subject, str):
        raise MalformedEvent("field subject: expected a string")
    if data is not None and not isinstance(data, Mapping):
        raise MalformedEvent("field data: expected an object")
    return ArmEvent(str(raw.get("id") or ""), event_type, subject or "", schema, data or {})


def container_group_of(event: ArmEvent) -> tuple[str, str, str] | None:
    """(subscription, resource group, group name) when the event is about a container group."""
    for candidate in (event.subject, str(event.data.get("resourceUri") or "")):
        match = _GROUP_PATH.match(candidate)
        if match:
            return match.group("sub"), match.group("rg"), match.group("name")
    return None


def decide(
    raw: Mapping[str, Any],
    *,
    subscription_id: str = "",
    resource_group: str = "",
) -> Decision:
    """A sync message for a container-group event of our resource group; MalformedEvent for garbage."""
    event = parse_event(raw)
    kind = event.type.removeprefix(RESOURCE_EVENT_PREFIX)
    if not event.type.startswith(RESOURCE_EVENT_PREFIX) or kind not in HANDLED_KINDS:
        return Decision(None, f"event type {event.type} is not a resource change")
    target = container_group_of(event)
    if target is None:
        return Decision(None, f"{event.subject or '(no subject)'} is not a container group")
    subscription, group_rg, name = target
    if subscription_id and subscription.lower() != subscription_id.lower():
        return Decision(None, f"subscription {subscription} is not ours", name)
    if resource_group and group_rg.lower() != resource_group.lower():
        return Decision(None, f"resource group {group_rg} is not ours", name)
    if not _GROUP_NAME.match(name):
        raise MalformedEvent(f"container group name {name!r} in {event.subject!r} is not a valid ACI name")
    message = Message(op="sync", pod=None, source="eventgrid", group=name)
    return Decision(message, f"{kind} on container group {name}", name)
