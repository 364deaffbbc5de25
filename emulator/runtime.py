"""A provisioned container's life at a given moment: state, restarts, events and logs from its program.

The program (emulator/program.py) comes from the container's command and image; the
group's restartPolicy decides restarts, with the kubelet's doubling back-off. A test that
forced a state (`ArmServer.terminate`, `set_logs`) overrides the program for that container.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulator.clock import iso, log_stamp
from emulator.program import Life, Run, Step, compile_command, live


@dataclass
class Observed:
    """What ARM shows for one container at `now`."""

    current: dict[str, Any]
    previous: dict[str, Any] | None
    restart_count: int
    starts: list[float]
    logs: list[tuple[float, str]]
    backing_off: bool = False


def container_spec(record: Any, name: str) -> dict[str, Any]:
    props = record.spec["properties"]
    for container in (props.get("containers") or []) + (props.get("initContainers") or []):
        if container["name"] == name:
            return container["properties"]
    raise KeyError(name)


def program_of(record: Any, name: str) -> tuple[Step, ...]:
    """The container's program, compiled once per spec (a redeploy makes a new record)."""
    cache = record.programs
    if name not in cache:
        props = container_spec(record, name)
        env = {
            item["name"]: str(item.get("value", item.get("secureValue", "")))
            for item in props.get("environmentVariables") or []
        }
        cache[name] = compile_command(props.get("command"), props.get("image", ""), env)
    return cache[name]


def _terminated(run: Run) -> dict[str, Any]:
    assert run.end is not None and run.exit_code is not None
    return {
        "state": "Terminated",
        "startTime": iso(run.start),
        "exitCode": run.exit_code,
        "finishTime": iso(run.end),
        "detailStatus": "Completed" if run.exit_code == 0 else "Error",
    }


def observe(record: Any, name: str, start: float, now: float, *, policy: str | None = None) -> Observed:
    """The container `name` of `record`, started at `start`, as it stands at `now`."""
    timing = record.timing
    life: Life = live(
        program_of(record, name),
        start,
        now,
        policy or record.restart_policy,
        backoff=timing.restart_backoff,
        backoff_cap=timing.restart_backoff_cap,
    )
    run = life.current
    previous = _terminated(life.previous) if life.previous else None
    if life.waiting_until is not None:
        current = {"state": "Waiting", "detailStatus": "CrashLoopBackOff: Back-off restarting failed container"}
        previous = _terminated(run)
        restarts = life.restart_count
    elif run.end is None:
        current = {"state": "Running", "startTime": iso(run.start), "detailStatus": ""}
        restarts = life.restart_count
    else:
        current = _terminated(run)
        restarts = life.restart_count
    return Observed(current, previous, restarts, life.starts, run.lines, backing_off=life.waiting_until is not None)


def restart_events(observed: Observed, image: str) -> list[dict[str, Any]]:
    """Events beyond the first start: Started counted over restarts, BackOff while waiting."""
    events = []
    if len(observed.starts) > 1:
        events.append(
            {
                "count": len(observed.starts) - 1,
                "firstTimestamp": iso(observed.starts[1], digits=0),
                "lastTimestamp": iso(observed.starts[-1], digits=0),
                "name": "Started",
                "message": "Started container",
                "type": "Normal",
            }
        )
    if observed.backing_off:
        stamp = iso(observed.starts[-1], digits=0)
        events.append(
            {
                "count": 1,
                "firstTimestamp": stamp,
                "lastTimestamp": stamp,
                "name": "BackOff",
                "message": f"Back-off restarting failed container {image}",
                "type": "Warning",
            }
        )
    return events


def log_text(lines: list[tuple[float, str]], *, timestamps: bool = False) -> str:
    if timestamps:
        return "".join(f"{log_stamp(at)} {text}\n" for at, text in lines)
    return "".join(f"{text}\n" for _, text in lines)
