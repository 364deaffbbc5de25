"""What real ACI answers carry, by SKU: container events, async-operation events, generated CCE policies.

Recorded facts (tests/fixtures/aci-recordings, api-version 2023-05-01):
- A regular group (sku Standard, priority Regular) has no `events` key in any container's instanceView,
  and its async-operation body carries `events: []` to the end.
- A Spot group's containers carry `events` (Pulling, Pulled; Started after a restart); its init
  container carries `events: []` even after it ran; the final async-operation body carries the
  containers' Pulling and Pulled events.
- Confidential groups carry `events` lists like Spot ones (the project's measured facts, DESIGN.md);
  without a policy, ACI generates a `ccePolicy` and shows it in the PUT answer and every GET.
Nobody recorded a `Created` container event: ACI does not emit one.
"""

from __future__ import annotations

import base64
from typing import Any

# The container event names real ACI emits (recorded: Pulling, Pulled; Started on restarts and Failed/
# BackOff on pull errors are the documented troubleshooting events).
CONTAINER_EVENT_NAMES = frozenset({"Pulling", "Pulled", "Started", "Failed", "BackOff", "Killing"})

# The emulator's stand-in for the policy ACI generates for a Confidential group created without one:
# a base64 Rego document allowing everything. The real bytes are ACI's business; the shape is what counts.
_ALLOW_ALL_POLICY = (
    "package policy\n\n"
    'api_version := "0.10.0"\n'
    'framework_version := "0.2.3"\n\n'
    'mount_device := {"allowed": true}\n'
    'unmount_device := {"allowed": true}\n'
    'mount_overlay := {"allowed": true}\n'
    'unmount_overlay := {"allowed": true}\n'
    'create_container := {"allowed": true, "env_list": null, "allow_stdio_access": true}\n'
    'exec_in_container := {"allowed": true, "env_list": null}\n'
    'exec_external := {"allowed": true, "env_list": null, "allow_stdio_access": true}\n'
    'shutdown_container := {"allowed": true}\n'
    'signal_container_process := {"allowed": true}\n'
    'plan9_mount := {"allowed": true}\n'
    'plan9_unmount := {"allowed": true}\n'
    'get_properties := {"allowed": true}\n'
    'dump_stacks := {"allowed": true}\n'
    'runtime_logging := {"allowed": true}\n'
    'load_fragment := {"allowed": true}\n'
    'scratch_mount := {"allowed": true}\n'
    'scratch_unmount := {"allowed": true}\n'
)
GENERATED_CCE_POLICY = base64.b64encode(_ALLOW_ALL_POLICY.encode()).decode()


def reports_events(spec: dict[str, Any]) -> bool:
    """Do this group's containers carry `events`? Spot priority or the Confidential SKU only."""
    props = spec.get("properties") or {}
    return props.get("priority") == "Spot" or props.get("sku") == "Confidential"


def with_generated_policy(spec: dict[str, Any]) -> dict[str, Any]:
    """A Confidential group stored without a CCE policy gets ACI's generated one (PUT answer and GET)."""
    props = spec.get("properties") or {}
    if props.get("sku") == "Confidential" and not (props.get("confidentialComputeProperties") or {}).get("ccePolicy"):
        props["confidentialComputeProperties"] = {
            **(props.get("confidentialComputeProperties") or {}),
            "ccePolicy": GENERATED_CCE_POLICY,
        }
    return spec


def shape_container_view(spec: dict[str, Any], view: dict[str, Any], *, init: bool) -> dict[str, Any]:
    """Give a container instanceView the `events` real ACI gives for this group's SKU and priority."""
    events = view.pop("events", None) or []
    if not reports_events(spec):
        return view
    view["events"] = [] if init else [e for e in events if e.get("name") in CONTAINER_EVENT_NAMES]
    return view


def operation_events(spec: dict[str, Any], container_events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events of a finished create's async-operation body: the containers' pull events, Spot/Confidential only."""
    if not reports_events(spec):
        return []
    return [e for e in container_events if e.get("name") in ("Pulling", "Pulled")]
