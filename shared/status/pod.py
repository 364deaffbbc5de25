"""Turn an ACI container group (ARM JSON) into the Pod status Kubernetes should show.

The product promises a status that never lies: the old connector reported Running
while ACI was still Creating. So every field here is derived from what ARM actually
says, with Kubernetes' own rules (the kubelet's phase and condition logic) applied on
top, and anything ARM does not say is either carried over from the pod's current
status (it was true when last observed) or left out. docs/status-mapping.md holds the
field table and the reasons behind each choice.

Everything is pure: plain dicts in, plain dicts out, no clock unless `now` is missing.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from shared.status.conditions import pod_conditions
from shared.status.containers import container_status
from shared.status.group import (
    CREATING_STATES,
    TERMINAL_GROUP_STATES,
    _aci_containers,
    _instance_view,
    _props,
    group_instance_state,
    group_ip,
)
from shared.status.phase import _init_progress, _state_kind, pod_phase
from shared.status.qos import qos_class
from shared.status.times import _truncate_times, _utcnow, kube_time, parse_time

TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})


# Top-level status keys this module computes; anything else is carried over as found.
OWNED_KEYS = frozenset(
    {
        "phase",
        "conditions",
        "hostIP",
        "hostIPs",
        "podIP",
        "podIPs",
        "startTime",
        "initContainerStatuses",
        "containerStatuses",
        "qosClass",
    }
)
IP_KEYS = ("podIP", "podIPs", "hostIP", "hostIPs")


MISSING_GROUP_MESSAGE = "The ACI container group backing this pod was not found"
# Exactly what the kubelet writes for a container that vanished with its sandbox.
LOST_CONTAINER_REASON = "ContainerStatusUnknown"
LOST_CONTAINER_MESSAGE = "The container could not be located when the pod was terminated"
LOST_CONTAINER_EXIT_CODE = 137


def _earliest_start(group: dict, statuses: list[dict]) -> str | None:
    times: list[datetime] = []
    for status in statuses:
        for holder in (status.get("state") or {}, status.get("lastState") or {}):
            for state in holder.values():
                parsed = parse_time((state or {}).get("startedAt"))
                if parsed:
                    times.append(parsed)
    created = parse_time((group.get("systemData") or {}).get("createdAt"))
    if created:
        times.append(created)
    return kube_time(min(times)) if times else None


def _carried_over(current: dict) -> dict:
    return {k: copy.deepcopy(v) for k, v in current.items() if k not in OWNED_KEYS}


def pod_status_from_container_group(group: dict, pod: dict, *, now: datetime | None = None) -> dict:
    """PodStatus (camelCase JSON, the whole `status` value) for `pod`, as ACI's `group` shows it.

    `group` is an ARM GET body, or a list element without instanceView, in which
    case only provisioning facts are reported and earlier observations are kept.
    A pod already Succeeded or Failed keeps its status: Kubernetes forbids leaving
    a terminal phase, and the kubelet never does.
    """
    current = pod.get("status") or {}
    if current.get("phase") in TERMINAL_PHASES:
        return copy.deepcopy(current)
    now_text = kube_time(now or _utcnow())
    spec = pod.get("spec") or {}
    restart_policy = spec.get("restartPolicy") or _props(group).get("restartPolicy") or "Always"
    provisioning = _props(group).get("provisioningState")
    init_specs = spec.get("initContainers") or []
    previous = {
        s.get("name"): s
        for s in [*(current.get("containerStatuses") or []), *(current.get("initContainerStatuses") or [])]
    }

    aci_init = _aci_containers(group, "initContainers")
    # "PodInitializing" only once ACI shows init containers at work; before that, all is being created.
    init_started = provisioning not in CREATING_STATES and any(_instance_view(v) for v in aci_init.values())
    init_statuses = [
        container_status(
            c,
            group,
            aci_init.get(c["name"]),
            previous.get(c["name"]),
            init=True,
            default_waiting="PodInitializing" if init_started else "ContainerCreating",
            restart_policy=restart_policy,
        )
        for c in init_specs
    ]
    init_done, _ = _init_progress(init_statuses)
    regular_default = "PodInitializing" if init_specs and not init_done and init_started else "ContainerCreating"
    aci_regular = _aci_containers(group, "containers")
    statuses = [
        container_status(
            c,
            group,
            aci_regular.get(c["name"]),
            previous.get(c["name"]),
            init=False,
            default_waiting=regular_default,
            restart_policy=restart_policy,
        )
        for c in spec.get("containers") or []
    ]

    group_terminal = group_instance_state(group) in TERMINAL_GROUP_STATES
    phase = pod_phase(init_statuses, statuses, restart_policy, group_terminal)
    start_time = current.get("startTime") or _earliest_start(group, init_statuses + statuses) or now_text

    status = _carried_over(current)
    status.update(phase=phase, startTime=start_time, qosClass=current.get("qosClass") or qos_class(pod))
    status["conditions"] = pod_conditions(pod, phase, init_statuses, statuses, start_time=start_time, now=now_text)
    ip = group_ip(group)
    if ip:
        # ACI gives the group one IP; the group is its own host, so hostIP is that IP too.
        status.update(podIP=ip, podIPs=[{"ip": ip}], hostIP=ip, hostIPs=[{"ip": ip}])
    else:
        # No IP in this body (not assigned yet, released on stop, Windows): keep what was
        # stored, as the kubelet keeps a finished pod's IPs.
        status.update({k: copy.deepcopy(current[k]) for k in IP_KEYS if k in current})
    if init_specs:
        status["initContainerStatuses"] = init_statuses
    status["containerStatuses"] = statuses
    if phase == "Failed" and group_instance_state(group) == "Stopped" and "reason" not in status:
        status["reason"] = "ContainerGroupStopped"
        status["message"] = "The ACI container group was stopped; its containers will not restart"
    return status


def _lost(status: dict, spec: dict) -> dict:
    """A container status after its group vanished: finished states stay, others become 137/unknown."""
    out = (
        copy.deepcopy(status)
        if status
        else {
            "name": spec.get("name"),
            "lastState": {},
            "restartCount": 0,
            "image": spec.get("image", ""),
            "imageID": "",
        }
    )
    if _state_kind(out) == "terminated":
        return out  # a finished container (a completed init container stays ready) is history
    out["state"] = {
        "terminated": {
            "exitCode": LOST_CONTAINER_EXIT_CODE,
            "reason": LOST_CONTAINER_REASON,
            "message": LOST_CONTAINER_MESSAGE,
        }
    }
    out.update(ready=False, started=False)
    return out


def pod_status_for_missing_group(
    pod: dict,
    *,
    reason: str = "ProviderFailed",
    message: str = MISSING_GROUP_MESSAGE,
    now: datetime | None = None,
) -> dict:
    """Phase Failed with `reason`/`message`, for a pod whose container group is gone.

    The caller decides that the group is really gone (deleted behind our back,
    or could never be created); containers that had not finished are reported
    the way the kubelet reports containers lost with their sandbox.
    """
    current = pod.get("status") or {}
    if current.get("phase") in TERMINAL_PHASES:
        return copy.deepcopy(current)
    now_text = kube_time(now or _utcnow())
    spec = pod.get("spec") or {}
    previous_regular = {s.get("name"): s for s in current.get("containerStatuses") or []}
    previous_init = {s.get("name"): s for s in current.get("initContainerStatuses") or []}
    statuses = [_lost(previous_regular.get(c.get("name")), c) for c in spec.get("containers") or []]
    init_statuses = [_lost(previous_init.get(c.get("name")), c) for c in spec.get("initContainers") or []]

    status = _carried_over(current)
    status.update({k: copy.deepcopy(current[k]) for k in IP_KEYS if k in current})
    start_time = current.get("startTime") or now_text
    status.update(
        phase="Failed",
        reason=reason,
        message=message,
        startTime=start_time,
        qosClass=current.get("qosClass") or qos_class(pod),
    )
    status["conditions"] = pod_conditions(pod, "Failed", init_statuses, statuses, start_time=start_time, now=now_text)
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    status["containerStatuses"] = statuses
    return status


def _normalize(value: Any, key: str | None = None) -> Any:
    """Drop nulls (the API server omits them) and sort keyed lists whose order carries no meaning."""
    if isinstance(value, dict):
        return {k: _normalize(v, k) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        items = [_normalize(v) for v in value]
        if key == "conditions":
            return sorted(items, key=lambda c: str(c.get("type")))
        if key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
            return sorted(items, key=lambda c: str(c.get("name")))
        return items  # podIPs / hostIPs: the first entry is the primary one, order matters
    return value


def status_differs(current: dict, desired: dict) -> bool:
    """True when patching `desired` would change what the API server stores as `current`.

    Ignores what is not a change: condition and container ordering, null vs absent
    fields (lastProbeTime: null), sub-second timestamp digits, and `hostIPs` on a server
    that drops it (before 1.28, `hostIPs` is an unknown field: the stored status keeps
    the same hostIP and no hostIPs, and a plain compare would patch every cycle).
    """
    have = _normalize(_truncate_times(current or {}))
    want = _normalize(_truncate_times(desired or {}))
    if "hostIPs" not in have and have.get("hostIP") and have.get("hostIP") == want.get("hostIP"):
        want.pop("hostIPs", None)
    return have != want
