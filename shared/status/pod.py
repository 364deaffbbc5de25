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
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# ARM provisioning states during which containers have not been (re)created yet.
CREATING_STATES = frozenset({"Pending", "Creating", "Repairing", "Updating", "Accepted"})
# Group instance-view states after which ACI will not restart anything any more.
TERMINAL_GROUP_STATES = frozenset({"Succeeded", "Failed", "Stopped"})
TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
# Conditions this module computes; any other condition type on the pod is kept untouched.
OWNED_CONDITIONS = ("Initialized", "Ready", "ContainersReady", "PodScheduled")
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
MISSING_GROUP_MESSAGE = "The ACI container group backing this pod was not found"
# Exactly what the kubelet writes for a container that vanished with its sandbox.
LOST_CONTAINER_REASON = "ContainerStatusUnknown"
LOST_CONTAINER_MESSAGE = "The container could not be located when the pod was terminated"
LOST_CONTAINER_EXIT_CODE = 137


# --------------------------------------------------------------------------- time


def parse_time(value: Any) -> datetime | None:
    """Parse an ARM or Kubernetes timestamp; ARM uses 0-7 fraction digits, 'Z' or '+00:00'."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python accepts at most 6 fraction digits; ARM sends up to 7 (".9155248").
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def kube_time(value: datetime) -> str:
    """Format as metav1.Time does: whole seconds, UTC, 'Z'.

    The API server truncates sub-second precision; emitting ARM's milliseconds would
    make every comparison with the stored status differ and patch forever.
    """
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _kube_time_of(value: Any) -> str | None:
    parsed = parse_time(value)
    return kube_time(parsed) if parsed else None


def _utcnow() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- ARM accessors


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


# --------------------------------------------------------------------------- image pull evidence


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


# --------------------------------------------------------------------------- container states


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
        status["state"] = _waiting(
            "ContainerGroupFailed", _latest_warning(group) or "ACI container group provisioningState is Failed"
        )
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


# --------------------------------------------------------------------------- phase


def _state_kind(status: dict) -> str:
    state = status.get("state") or {}
    return next((k for k in ("running", "terminated", "waiting") if k in state), "unknown")


def _init_progress(init_statuses: list[dict]) -> tuple[bool, bool]:
    """(all init containers succeeded, some init container failed for good or for now)."""
    done = all(_state_kind(s) == "terminated" and s["state"]["terminated"].get("exitCode") == 0 for s in init_statuses)
    failed = any(
        (_state_kind(s) == "terminated" and s["state"]["terminated"].get("exitCode") != 0)
        or (_state_kind(s) == "waiting" and (s.get("lastState") or {}).get("terminated", {}).get("exitCode", 0) != 0)
        for s in init_statuses
    )
    return done, failed


def pod_phase(init_statuses: list[dict], statuses: list[dict], restart_policy: str, group_terminal: bool) -> str:
    """The kubelet's getPhase, applied to statuses built from ACI.

    A container waiting after a termination counts as stopped (it is restarting),
    not as "not yet started", exactly as the kubelet counts it. When the group is
    terminal ACI restarts nothing, so a stopped pod ends whatever its policy says.
    """
    init_done, init_failed = _init_progress(init_statuses)
    if init_failed and (restart_policy == "Never" or group_terminal):
        return "Failed"
    if not init_done:
        return "Pending"
    running = stopped = succeeded = waiting = 0
    for status in statuses:
        kind = _state_kind(status)
        if kind == "running":
            running += 1
        elif kind == "terminated":
            stopped += 1
            succeeded += status["state"]["terminated"].get("exitCode") == 0
        elif kind == "waiting" and "terminated" in (status.get("lastState") or {}):
            stopped += 1
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if not stopped:
        return "Pending"
    if group_terminal:
        return "Succeeded" if stopped == succeeded and restart_policy != "Always" else "Failed"
    if restart_policy == "Always":
        return "Running"
    if stopped == succeeded:
        return "Succeeded"
    return "Failed" if restart_policy == "Never" else "Running"


# --------------------------------------------------------------------------- conditions


def _condition(type_: str, status: bool, when: str, reason: str | None = None, message: str | None = None) -> dict:
    out: dict[str, Any] = {"type": type_, "status": "True" if status else "False", "lastTransitionTime": when}
    if reason:
        out["reason"] = reason
    if message:
        out["message"] = message
    return out


def _names(statuses: list[dict]) -> str:
    """Go's %v of a []string, as the kubelet prints container lists in condition messages."""
    return "[" + " ".join(s["name"] for s in statuses) + "]"


def _latest(times: list[str | None]) -> str | None:
    parsed = [parse_time(t) for t in times if t]
    return kube_time(max(p for p in parsed if p)) if any(parsed) else None


def _latest_finish(statuses: list[dict]) -> str | None:
    finishes = []
    for s in statuses:
        for holder in (s.get("state") or {}, s.get("lastState") or {}):
            finishes.append((holder.get("terminated") or {}).get("finishedAt"))
    return _latest(finishes)


def _latest_start(statuses: list[dict]) -> str | None:
    return _latest([((s.get("state") or {}).get("running") or {}).get("startedAt") for s in statuses])


def _readiness_gates(pod: dict) -> tuple[bool, str | None]:
    """(all gates True, kubelet's message naming the first one that is not)."""
    existing = {c.get("type"): c for c in (pod.get("status") or {}).get("conditions") or []}
    for gate in (pod.get("spec") or {}).get("readinessGates") or []:
        ctype = gate.get("conditionType")
        found = existing.get(ctype)
        if found is None:
            return False, f'corresponding condition of pod readiness gate "{ctype}" does not exist.'
        if found.get("status") != "True":
            return False, f'the status of pod readiness gate "{ctype}" is not "True", but {found.get("status")}'
    return True, None


def pod_conditions(
    pod: dict,
    phase: str,
    init_statuses: list[dict],
    statuses: list[dict],
    *,
    start_time: str,
    now: str,
) -> list[dict]:
    """Owned conditions (kubelet order) with honest lastTransitionTime, then foreign ones untouched."""
    existing = {c.get("type"): c for c in (pod.get("status") or {}).get("conditions") or []}
    init_done, _ = _init_progress(init_statuses)
    terminal_reason = {"Succeeded": "PodCompleted", "Failed": "PodFailed"}.get(phase)
    unready = [s for s in statuses if not s.get("ready")]

    if init_done:
        init_when = _latest_finish(init_statuses) if init_statuses else start_time
        initialized = _condition(
            "Initialized", True, init_when or now, "PodCompleted" if phase == "Succeeded" else None
        )
    else:
        pending = [s for s in init_statuses if _state_kind(s) != "terminated" or s["state"]["terminated"]["exitCode"]]
        initialized = _condition(
            "Initialized",
            False,
            now,
            "ContainersNotInitialized",
            f"containers with incomplete status: {_names(pending)}",
        )

    if terminal_reason:
        ready_when = _latest_finish(statuses) or now
        containers_ready = _condition("ContainersReady", False, ready_when, terminal_reason)
        ready = _condition("Ready", False, ready_when, terminal_reason)
    elif unready:
        when = _latest_finish(unready) or now
        message = f"containers with unready status: {_names(unready)}"
        containers_ready = _condition("ContainersReady", False, when, "ContainersNotReady", message)
        ready = _condition("Ready", False, when, "ContainersNotReady", message)
    else:
        when = _latest_start(statuses) or now
        containers_ready = _condition("ContainersReady", True, when)
        gates_ok, gate_message = _readiness_gates(pod)
        ready = (
            _condition("Ready", True, when)
            if gates_ok
            else _condition("Ready", False, now, "ReadinessGatesNotReady", gate_message)
        )

    scheduled = existing.get("PodScheduled")
    if not (scheduled and scheduled.get("status") == "True"):
        # The bind time is unknown; it cannot be later than the pod's start or than now.
        scheduled = _condition("PodScheduled", True, min(start_time, now, key=_sort_key))

    owned = [_keep_transition_time(c, existing.get(c["type"])) for c in (initialized, ready, containers_ready)]
    owned.append({k: copy.deepcopy(v) for k, v in scheduled.items() if v is not None})
    foreign = [
        copy.deepcopy(c)
        for c in (pod.get("status") or {}).get("conditions") or []
        if c.get("type") not in OWNED_CONDITIONS
    ]
    return owned + foreign


def _sort_key(text: str) -> datetime:
    return parse_time(text) or datetime.max.replace(tzinfo=UTC)


def _keep_transition_time(new: dict, old: dict | None) -> dict:
    """A condition whose status did not change keeps the time it last changed."""
    if old and old.get("status") == new["status"] and old.get("lastTransitionTime"):
        new = {**new, "lastTransitionTime": old["lastTransitionTime"]}
    return new


# --------------------------------------------------------------------------- QoS


_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$")
_SUFFIX = {
    None: Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def parse_quantity(value: Any) -> Decimal:
    """A Kubernetes resource.Quantity ("250m", "1Gi", "1e3") as an exact Decimal."""
    if isinstance(value, bool):
        raise ValueError(f"not a quantity: {value!r}")
    if isinstance(value, int | float):
        return Decimal(str(value))
    match = _QUANTITY.match(str(value).strip())
    if not match:
        raise ValueError(f"not a quantity: {value!r}")
    number, exponent, suffix = match.groups()
    try:
        base = Decimal(number)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid numbers
        raise ValueError(f"not a quantity: {value!r}") from exc
    return base * (Decimal(10) ** int(exponent[1:]) if exponent else _SUFFIX[suffix])


def qos_class(pod: dict) -> str:
    """Kubernetes' ComputePodQOS: Guaranteed, Burstable or BestEffort from cpu/memory requests and limits."""
    spec = pod.get("spec") or {}
    requests: dict[str, Decimal] = {}
    limits: dict[str, Decimal] = {}
    guaranteed = True
    pod_resources = spec.get("resources")
    containers = (
        [{"resources": pod_resources}]
        if pod_resources
        else [
            *(spec.get("containers") or []),
            *(spec.get("initContainers") or []),
        ]
    )
    for container in containers:
        resources = container.get("resources") or {}
        for name, value in (resources.get("requests") or {}).items():
            quantity = parse_quantity(value)
            if name in ("cpu", "memory") and quantity > 0:
                requests[name] = requests.get(name, Decimal(0)) + quantity
        found = set()
        for name, value in (resources.get("limits") or {}).items():
            quantity = parse_quantity(value)
            if name in ("cpu", "memory") and quantity > 0:
                found.add(name)
                limits[name] = limits.get(name, Decimal(0)) + quantity
        if not {"cpu", "memory"} <= found:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and all(limits.get(n) == q for n, q in requests.items()) and len(requests) == len(limits):
        return "Guaranteed"
    return "Burstable"


# --------------------------------------------------------------------------- the seam


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


# --------------------------------------------------------------------------- comparison


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
    fields (lastProbeTime: null), and sub-second timestamp digits.
    """
    return _normalize(_truncate_times(current or {})) != _normalize(_truncate_times(desired or {}))


_TIME_KEYS = frozenset({"lastTransitionTime", "lastProbeTime", "startTime", "startedAt", "finishedAt"})


def _truncate_times(value: Any, key: str | None = None) -> Any:
    if isinstance(value, dict):
        return {k: _truncate_times(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_truncate_times(v) for v in value]
    if key in _TIME_KEYS and isinstance(value, str):
        parsed = parse_time(value)
        return kube_time(parsed) if parsed else value
    return value
