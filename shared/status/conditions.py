"""Pod conditions (PodScheduled, Initialized, ContainersReady, Ready) with stable transition times."""

from __future__ import annotations

import copy
from typing import Any

from shared.status.phase import _init_progress, _state_kind
from shared.status.times import _sort_key, kube_time, parse_time

# Conditions this module computes; any other condition type on the pod is kept untouched.
OWNED_CONDITIONS = ("Initialized", "Ready", "ContainersReady", "PodScheduled")


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


def _keep_transition_time(new: dict, old: dict | None) -> dict:
    """A condition whose status did not change keeps the time it last changed."""
    if old and old.get("status") == new["status"] and old.get("lastTransitionTime"):
        new = {**new, "lastTransitionTime": old["lastTransitionTime"]}
    return new
