"""Container-group events derived from the documented resource-group events in tests/fixtures/eventgrid.

The documented examples are about a storage account and an Event Hubs rule; ARM sends the
same envelope for every resource type, so the ACI variants keep every field and replace only
the resource path (subject, data.resourceUri, data.authorization.scope) and the operation name.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "eventgrid"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
RESOURCE_GROUP = "aci-connector-rg"
FIXTURE_NAMES = sorted(p.name for p in FIXTURES.glob("*.json"))
_RESOURCE = re.compile(r"/providers/Microsoft\.[A-Za-z]+/.*$")
_OPERATION = {"write": "write", "delete": "delete", "action": "restart/action"}


def load(name: str) -> dict[str, Any]:
    """The single event of a fixture file (each holds a one-element array, as Event Grid posts them)."""
    [event] = json.loads((FIXTURES / name).read_text())
    return event


def aci_variant(event: dict[str, Any], group: str, *, event_type: str | None = None) -> dict[str, Any]:
    """The same event about container group `group` in our subscription and resource group."""
    out = copy.deepcopy(json.loads(json.dumps(event).replace("{subscription-id}", SUBSCRIPTION)))
    out = json.loads(json.dumps(out).replace("{resource-group}", RESOURCE_GROUP))
    path = f"/providers/Microsoft.ContainerInstance/containerGroups/{group}"
    out["subject"] = _RESOURCE.sub(path, out["subject"])
    data = out["data"]
    data["resourceUri"] = _RESOURCE.sub(path, data["resourceUri"])
    data["authorization"]["scope"] = _RESOURCE.sub(path, data["authorization"]["scope"])
    type_key = "type" if "specversion" in out else "eventType"
    if event_type is not None:
        out[type_key] = event_type
    verb = re.search(r"Resource(Write|Delete|Action)", out[type_key]).group(1).lower()  # type: ignore[union-attr]
    data["operationName"] = f"Microsoft.ContainerInstance/containerGroups/{_OPERATION[verb]}"
    data["resourceProvider"] = "Microsoft.ContainerInstance"
    if out[type_key].endswith(("Failure", "Cancel")):
        data["status"] = "Failed" if out[type_key].endswith("Failure") else "Canceled"
    return out
