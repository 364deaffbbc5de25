"""What `python -m shared.cli groups` and `status` print: container groups as an operator reads them.

Pure functions over ARM JSON (the list body has no instanceView, so the CLI GETs each
managed group for state and restarts). Kept out of cli.py so the table and the detail
view can be tested on recorded bodies.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shared.tags import TAG_MODE, TAG_NODE, group_tags, is_managed, pod_key

COLUMNS = ("NAME", "POD", "OS", "STATE", "IP", "RESTARTS", "AGE")


def group_state(group: Mapping[str, Any]) -> str:
    """The instanceView state when present and provisioning is over, else the provisioningState."""
    props = group.get("properties") or {}
    provisioning = props.get("provisioningState") or "Unknown"
    state = (props.get("instanceView") or {}).get("state")
    if provisioning in ("Pending", "Creating", "Deleting", "Repairing", "Updating") or not state:
        return provisioning
    if provisioning == "Failed":
        return f"Failed ({state})" if state != "Failed" else "Failed"
    return state


def _containers(group: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list((group.get("properties") or {}).get("containers") or [])


def restarts(group: Mapping[str, Any]) -> int:
    return sum(
        int(((c.get("properties") or {}).get("instanceView") or {}).get("restartCount") or 0)
        for c in _containers(group)
    )


def _age(created: str | None, now: datetime) -> str:
    if not created:
        return "-"
    try:
        moment = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return "-"
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def group_row(group: Mapping[str, Any], now: datetime | None = None) -> tuple[str, ...]:
    now = now or datetime.now(UTC)
    props = group.get("properties") or {}
    key = pod_key(group)
    ip = (props.get("ipAddress") or {}).get("ip") or "-"
    created = _first_start(group) or group_tags(group).get("k8s-pod-created")
    return (
        str(group.get("name", "")),
        f"{key[0]}/{key[1]}" if key else "-",
        str(props.get("osType") or "-"),
        group_state(group),
        ip,
        str(restarts(group)),
        _age(created, now),
    )


def _first_start(group: Mapping[str, Any]) -> str | None:
    starts = []
    for container in _containers(group):
        view = (container.get("properties") or {}).get("instanceView") or {}
        for state in (view.get("previousState"), view.get("currentState")):
            if state and state.get("startTime"):
                starts.append(state["startTime"])
    return min(starts) if starts else None


def table(rows: list[tuple[str, ...]], columns: tuple[str, ...] = COLUMNS) -> str:
    """kubectl-style columns: left-aligned, three spaces apart."""
    widths = [
        max(len(columns[i]), *(len(row[i]) for row in rows)) if rows else len(columns[i]) for i in range(len(columns))
    ]
    lines = ["   ".join(value.ljust(widths[i]) for i, value in enumerate(row)).rstrip() for row in [columns, *rows]]
    return "\n".join(lines)


def managed(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [g for g in groups if is_managed(g)]


def _state_text(state: Mapping[str, Any] | None) -> str:
    if not state:
        return "-"
    text = str(state.get("state") or "-")
    details = []
    if state.get("detailStatus"):
        details.append(str(state["detailStatus"]))
    if state.get("exitCode") is not None:
        details.append(f"exit code {state['exitCode']}")
    if state.get("startTime"):
        details.append(f"started {state['startTime']}")
    if state.get("finishTime"):
        details.append(f"finished {state['finishTime']}")
    return f"{text} ({', '.join(details)})" if details else text


def detail(group: Mapping[str, Any]) -> str:
    """`status NAMESPACE/POD`: the group, its containers and their events, oldest event first."""
    props = group.get("properties") or {}
    tags = group_tags(group)
    key = pod_key(group)
    ip = props.get("ipAddress") or {}
    ports = ", ".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ip.get("ports") or []) or "-"
    lines = [
        f"Name:          {group.get('name')}",
        f"Pod:           {key[0]}/{key[1]}" if key else "Pod:           -",
        f"Mode:          {tags.get(TAG_MODE, '-')}",
        f"Node:          {tags.get(TAG_NODE, '-')}",
        f"Location:      {group.get('location', '-')}",
        f"OS:            {props.get('osType', '-')}",
        f"Provisioning:  {props.get('provisioningState', '-')}",
        f"State:         {group_state(group)}",
        f"IP:            {ip.get('ip') or '-'} ({ip.get('type', 'no IP')}; ports {ports})",
        f"RestartPolicy: {props.get('restartPolicy', '-')}",
        "Containers:",
    ]
    events: list[tuple[str, str, str, str]] = []
    for container in _containers(group):
        cprops = container.get("properties") or {}
        view = cprops.get("instanceView") or {}
        requests = (cprops.get("resources") or {}).get("requests") or {}
        lines += [
            f"  {container.get('name')}:",
            f"    Image:     {cprops.get('image')}",
            f"    Command:   {' '.join(cprops.get('command') or []) or '(image default)'}",
            f"    Requests:  cpu {requests.get('cpu', '-')}, memory {requests.get('memoryInGB', '-')} GB",
            f"    State:     {_state_text(view.get('currentState'))}",
            f"    Previous:  {_state_text(view.get('previousState'))}",
            f"    Restarts:  {view.get('restartCount', 0)}",
        ]
        for event in view.get("events") or []:
            events.append(
                (
                    str(event.get("lastTimestamp") or event.get("firstTimestamp") or ""),
                    str(event.get("type") or ""),
                    f"{event.get('name', '')}" + (f" (x{event['count']})" if (event.get("count") or 1) > 1 else ""),
                    f"{container.get('name')}: {event.get('message', '')}",
                )
            )
    for event in (props.get("instanceView") or {}).get("events") or []:
        events.append(
            (
                str(event.get("lastTimestamp") or ""),
                str(event.get("type") or ""),
                str(event.get("name") or ""),
                str(event.get("message") or ""),
            )
        )
    lines.append("Events:")
    if not events:
        lines.append("  <none>")
    else:
        lines.append("  " + table(sorted(events), ("LAST SEEN", "TYPE", "REASON", "MESSAGE")).replace("\n", "\n  "))
    return "\n".join(lines)
