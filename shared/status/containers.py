"""ACI container instance view -> Kubernetes ContainerStatus (waiting, running, terminated, restarts)."""

from __future__ import annotations

import copy
import re
from typing import Any

from shared.status.group import (
    CREATING_STATES,
    TERMINAL_GROUP_STATES,
    _event_time,
    _instance_view,
    _props,
    container_id,
    group_instance_state,
    image_pull_failure,
)
from shared.status.times import _kube_time_of

FAILED_MESSAGE = "ACI container group provisioningState is Failed"

# Waiting reasons the kubelet uses; ACI sometimes puts one of them first in detailStatus.
KNOWN_WAITING_REASONS = frozenset(
    {
        "ContainerCreating",
        "PodInitializing",
        "CrashLoopBackOff",
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerError",
        "CreateContainerConfigError",
        "RunContainerError",
    }
)


def _terminated(state: dict, cid: str) -> dict:
    exit_code = state.get("exitCode")
    exit_code = int(exit_code) if exit_code is not None else 0
    reason = "Completed" if exit_code == 0 else "Error"
    out: dict[str, Any] = {"exitCode": exit_code, "reason": reason, "containerID": cid}
    detail = state.get("detailStatus") or ""
    if detail and detail != reason:
        out["message"] = detail
    started, finished = _kube_time_of(state.get("startTime")), _kube_time_of(state.get("finishTime"))
    if started:
        out["startedAt"] = started
    if finished:
        out["finishedAt"] = finished
    return out


def _waiting_reason_from_detail(detail: str) -> tuple[str, str] | None:
    """'CrashLoopBackOff: back-off 10s ...' -> ('CrashLoopBackOff', detail) when ACI speaks kubelet."""
    token = re.split(r"[:\s]", detail.strip(), maxsplit=1)[0] if detail.strip() else ""
    return (token, detail) if token in KNOWN_WAITING_REASONS else None


def _waiting(reason: str, message: str | None = None) -> dict:
    out = {"reason": reason}
    if message:
        out["message"] = message
    return {"waiting": out}


def _restarts(terminated_state: dict, *, init: bool, restart_policy: str, group_terminal: bool) -> bool:
    """Will ACI restart a container that terminated like this? Then Kubernetes shows it waiting."""
    if group_terminal or restart_policy == "Never":
        return False
    exit_code = int(terminated_state.get("exitCode") or 0)
    if init or restart_policy == "OnFailure":
        return exit_code != 0
    return True  # Always


def container_status(
    spec: dict,
    group: dict,
    aci_container: dict | None,
    previous: dict | None,
    *,
    init: bool,
    default_waiting: str,
    restart_policy: str,
) -> dict:
    """One ContainerStatus for a spec container, from the ACI container's instance view."""
    name = spec.get("name")
    cid = container_id(group, name)
    view = _instance_view(aci_container)
    provisioning = _props(group).get("provisioningState")
    status: dict[str, Any] = {
        "name": name,
        "state": {},
        "lastState": {},
        "ready": False,
        "restartCount": 0,
        "image": spec.get("image", ""),
        "imageID": "",
        "started": False,
    }
    if view is None or not (view.get("currentState") or {}).get("state"):
        return _status_without_view(
            status, group, aci_container, previous, default_waiting=default_waiting, provisioning=provisioning
        )

    current = view["currentState"]
    state_name = current["state"]
    status["restartCount"] = int(view.get("restartCount") or 0)
    previous_state = view.get("previousState") or {}
    if previous_state.get("state") == "Terminated":
        status["lastState"] = {"terminated": _terminated(previous_state, cid)}
    group_terminal = group_instance_state(group) in TERMINAL_GROUP_STATES

    if state_name == "Running":
        started = _kube_time_of(current.get("startTime"))
        status["state"] = {"running": {"startedAt": started} if started else {}}
        status.update(ready=not init, started=True, containerID=cid)
    elif state_name == "Terminated":
        terminated = _terminated(current, cid)
        status["containerID"] = cid
        if _restarts(current, init=init, restart_policy=restart_policy, group_terminal=group_terminal):
            status["lastState"] = {"terminated": terminated}
            status["state"] = _waiting("CrashLoopBackOff", terminated.get("message"))
        else:
            status["state"] = {"terminated": terminated}
            # The kubelet marks an init container ready once it has completed successfully.
            status["ready"] = init and terminated["exitCode"] == 0
    else:  # Waiting, or any state ACI may add later
        status["state"] = _waiting_state(group, aci_container or {}, current, status, default_waiting)
        if status["lastState"] or status["restartCount"]:
            status["containerID"] = cid
    return status


def _waiting_state(group: dict, aci_container: dict, current: dict, status: dict, default_waiting: str) -> dict:
    detail = current.get("detailStatus") or ""
    pull = image_pull_failure(group, aci_container)
    if pull:
        return _waiting(*pull)
    spoken = _waiting_reason_from_detail(detail)
    if spoken:
        return _waiting(*spoken)
    if status["lastState"] or status["restartCount"]:
        return _waiting("CrashLoopBackOff", detail or None)
    if _props(group).get("provisioningState") == "Failed":
        # A Regular group carries no events: a container that never started in a Failed group (e.g. its
        # image cannot be pulled) is told from provisioningState, not left looking like it is being created.
        return _waiting("ContainerGroupFailed", detail or _latest_warning(group) or FAILED_MESSAGE)
    return _waiting(default_waiting, detail or None)


def _status_without_view(
    status: dict,
    group: dict,
    aci_container: dict | None,
    previous: dict | None,
    *,
    default_waiting: str,
    provisioning: str | None,
) -> dict:
    """ARM said nothing about this container (list body, or not created yet).

    A status we built earlier from a real instance view (it carries our aci://
    containerID) stays the best knowledge while the group is provisioned; otherwise
    the container is honestly still being created.
    """
    ours = bool(previous) and str(previous.get("containerID") or "").startswith("aci://")
    if ours and provisioning not in CREATING_STATES:
        return copy.deepcopy(previous)
    if previous:
        status["restartCount"] = int(previous.get("restartCount") or 0)
    pull = image_pull_failure(group, aci_container) if aci_container else None
    if pull:
        status["state"] = _waiting(*pull)
    elif aci_container is None and _props(group).get("containers") is not None:
        status["state"] = _waiting(default_waiting, "container not present in the ACI container group")
    elif provisioning == "Failed":
        status["state"] = _waiting("ContainerGroupFailed", _latest_warning(group) or FAILED_MESSAGE)
    else:
        status["state"] = _waiting(default_waiting)
    return status


def _latest_warning(group: dict) -> str | None:
    view = _props(group).get("instanceView")
    events = (view or {}).get("events") or [] if isinstance(view, dict) else []
    warnings = [e for e in events if e.get("type") == "Warning" and e.get("message")]
    if not warnings:
        return None
    return max(warnings, key=lambda e: _event_time(e, "lastTimestamp"))["message"]
