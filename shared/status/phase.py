"""Container statuses -> pod phase, as the kubelet computes it."""

from __future__ import annotations


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
