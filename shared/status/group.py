"""Reading an ACI container group GET body: its state, IP, containers and image pull events."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.status.times import parse_time

# ARM provisioning states during which containers have not been (re)created yet.
CREATING_STATES = frozenset({"Pending", "Creating", "Repairing", "Updating", "Accepted"})
# Group instance-view states after which ACI will not restart anything any more.
TERMINAL_GROUP_STATES = frozenset({"Succeeded", "Failed", "Stopped"})


def _props(group: dict) -> dict:
    return group.get("properties") or {}


def _aci_containers(group: dict, key: str) -> dict[str, dict]:
    """Map container name -> ARM container properties for `containers` or `initContainers`."""
    return {c.get("name"): c.get("properties") or {} for c in _props(group).get(key) or [] if c.get("name")}


def _instance_view(aci_container: dict | None) -> dict | None:
    if not aci_container:
        return None
    view = aci_container.get("instanceView")
    return view if isinstance(view, dict) else None


def group_instance_state(group: dict) -> str | None:
    """The group instance-view state (Running/Succeeded/Failed/Stopped/...), None in list bodies."""
    view = _props(group).get("instanceView")
    return view.get("state") if isinstance(view, dict) else None


def group_ip(group: dict) -> str | None:
    """The group's IP (public or private); None when ACI assigned none (e.g. no ipAddress, Windows)."""
    ip = (_props(group).get("ipAddress") or {}).get("ip")
    return ip or None


def container_id(group: dict, name: str) -> str:
    """A stable, readable container ID: aci://<group name>/<container>.

    ACI has no runtime container ID. The group name is already visible through the
    naming scheme; the ARM resource ID is not used because it would publish the
    subscription ID to everyone who can read pods.
    """
    group_name = group.get("name") or str(group.get("id") or "").rstrip("/").rsplit("/", 1)[-1]
    return f"aci://{group_name}/{name}"


def _event_time(event: dict, key: str) -> datetime:
    return parse_time(event.get(key)) or datetime.min.replace(tzinfo=UTC)


def _is_failed_pull(event: dict) -> bool:
    name = event.get("name") or ""
    message = (event.get("message") or "").lower()
    if name in ("ErrImagePull", "ImagePullBackOff"):
        return True
    return name == "Failed" and ("pull image" in message or "errimagepull" in message)


def _is_pull_backoff(event: dict) -> bool:
    message = (event.get("message") or "").lower()
    return event.get("name") == "ImagePullBackOff" or (event.get("name") == "BackOff" and "pulling image" in message)


def _pull_events(group: dict, aci_container: dict) -> list[dict]:
    """Container events plus group-level events that name this container's image."""
    events = list((_instance_view(aci_container) or {}).get("events") or [])
    image = aci_container.get("image") or ""
    group_view = _props(group).get("instanceView")
    if image and isinstance(group_view, dict):
        quoted = f'"{image}'
        events += [e for e in group_view.get("events") or [] if quoted in (e.get("message") or "")]
    return events


def image_pull_failure(group: dict, aci_container: dict) -> tuple[str, str] | None:
    """(reason, message) when ACI's latest word on pulling this image is a failure.

    ErrImagePull the first time, ImagePullBackOff once ACI repeated the attempt
    (count > 1) or reported backing off, as the kubelet shows them. A later
    successful pull ("Pulled") makes older failures history.
    """
    events = _pull_events(group, aci_container)
    failures = [e for e in events if _is_failed_pull(e)]
    detail = ((_instance_view(aci_container) or {}).get("currentState") or {}).get("detailStatus") or ""
    detail_says = next((r for r in ("ImagePullBackOff", "ErrImagePull") if r.lower() in detail.lower()), None)
    if not failures and not detail_says:
        return None
    last_failure = max((_event_time(e, "lastTimestamp") for e in failures), default=None)
    pulled = [e for e in events if e.get("name") == "Pulled"]
    last_pulled = max((_event_time(e, "lastTimestamp") for e in pulled), default=None)
    if last_failure is not None and last_pulled is not None and last_pulled > last_failure and not detail_says:
        return None
    latest = max(failures, key=lambda e: _event_time(e, "lastTimestamp")) if failures else None
    repeated = (
        detail_says == "ImagePullBackOff"
        or any(int(e.get("count") or 1) > 1 for e in failures)
        or len(failures) > 1
        or any(_is_pull_backoff(e) for e in events)
    )
    reason = "ImagePullBackOff" if repeated else "ErrImagePull"
    message = (latest or {}).get("message") or detail
    return reason, message
