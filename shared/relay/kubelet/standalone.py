"""`python -m shared.cli logs`: a container's logs without a cluster, with the kubelet endpoint's own filtering.

Standalone pods have no apiserver to ask where they run, so the group is found from the
pod's name (shared.naming, as the worker named it) and confirmed by its tags, falling back
to a list of the resource group when the manifest carried a uid. Follow polls ACI's logs
and the group (for the container's state) every `interval` seconds: two ARM reads a poll.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from shared.naming import container_group_name
from shared.relay.kubelet.logs import FOLLOW_TAIL, LogCursor, LogOptions, select, split_lines
from shared.tags import is_managed, pod_key


class NotFoundError(LookupError):
    """No group, or no such container in it; the message says which."""


def find_group(aci: Any, namespace: str, name: str) -> dict[str, Any]:
    """The pod's container group (GET body), by its derived name, else by its tags."""
    group = aci.get(container_group_name({"metadata": {"namespace": namespace, "name": name}}))
    if group is not None and pod_key(group) == (namespace, name):
        return group
    for item in aci.list_groups():
        if is_managed(item) and pod_key(item) == (namespace, name):
            found = aci.get(item["name"])
            if found is not None:
                return found
    raise NotFoundError(f"no container group for pod {namespace}/{name} in the resource group")


def containers(group: dict[str, Any]) -> list[dict[str, Any]]:
    properties = group.get("properties") or {}
    return (properties.get("initContainers") or []) + (properties.get("containers") or [])


def pick_container(group: dict[str, Any], wanted: str | None) -> str:
    names = [c.get("name") or "" for c in (group.get("properties") or {}).get("containers") or []]
    every = [c.get("name") or "" for c in containers(group)]
    if wanted:
        if wanted not in every:
            raise NotFoundError(f"container {wanted!r} not found; the pod has {', '.join(every)}")
        return wanted
    if len(names) != 1:
        raise NotFoundError(f"the pod has several containers, choose one with -c: {', '.join(names)}")
    return names[0]


def instance(group: dict[str, Any] | None, container: str) -> tuple[str, int] | None:
    """(current state, restart count) of a container from the group's instanceView; None when it is gone."""
    for item in containers(group or {}):
        if item.get("name") == container:
            view = (item.get("properties") or {}).get("instanceView") or {}
            return str((view.get("currentState") or {}).get("state") or ""), int(view.get("restartCount") or 0)
    return None


def ended(group: dict[str, Any] | None, container: str, restarts: int) -> bool:
    """The followed instance is over: group gone, container Terminated, or restarted (a new instance)."""
    now = instance(group, container)
    return now is None or now[0] == "Terminated" or now[1] > restarts


def print_logs(
    aci: Any,
    namespace: str,
    name: str,
    container: str | None,
    options: LogOptions,
    *,
    out: TextIO,
    interval: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    group = find_group(aci, namespace, name)
    chosen = pick_container(group, container)
    tail = options.tail_lines if options.since_seconds is None and options.since_time is None else None
    lines = split_lines(aci.logs(group["name"], chosen, tail, timestamps=True))
    cursor = LogCursor()
    cursor.mark(lines)
    for line in select(lines, options, datetime.now(UTC)):
        out.write(line.render(options.timestamps))
    out.flush()
    restarts = (instance(group, chosen) or ("", 0))[1]
    done = not options.follow or ended(group, chosen, restarts)
    while not done:
        sleep(interval)
        done = ended(aci.get(group["name"]), chosen, restarts)
        for line in cursor.fresh(split_lines(aci.logs(group["name"], chosen, FOLLOW_TAIL, timestamps=True))):
            out.write(line.render(options.timestamps))
        out.flush()
