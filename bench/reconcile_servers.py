"""The reconcile bench's fakes in their own process: the connector measured has its CPU and memory to itself.

    python -m bench.reconcile_servers --port 0 --pods N

Starts the fake Kubernetes API and the ACI emulator, seeds N Running pods on the virtual node and their
Succeeded groups straight into the stores (seeding 20,000 pods over HTTP would dominate the run), then
prints the Kubernetes URL, `arm=<url>` and `ca=<path>`, one per line, and answers commands on stdin with
one JSON line each:

- `counts`: {"kube": all Kubernetes requests, "patches": pod status PATCHes, "get": ARM GETs, "list": ARM
  list pages, "usages": ARM usages reads, "put": ARM PUTs}
- `latency S`: every ARM answer takes S seconds more
- `churn FRACTION SEED`: a container exits (restartPolicy Always brings it back, restart count +1) in that
  fraction of the groups; answers {"changed": [group names]}

With `--ingestion-delay S` (the freshness mode) the emulator runs on a manual clock, every group is Running,
and a fake Log Analytics workspace (tests/fakes/loganalytics.py) receives each container exit as a
ContainerEvent row S seconds later; a fourth line `workspace=<url> <ca> <clock start>` follows, and:

- `advance S`: the clock moves S seconds
- `exit GROUP...`: those groups' containers exit now
- `restarts GROUP...`: the restart count each group's pod status shows
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from typing import Any


def seed(kube_api: Any, arm: Any, settings: Any, count: int) -> list[str]:
    """N Running pods and their Succeeded groups, written to the stores directly.

    The first pod is created and patched as the API would see it; the others are copies of it (own name, uid
    and status) bulk-loaded into the store, and their groups are upserted into the emulator's state: 20,000
    pods seed in seconds instead of 40,000 writes through the fake API's validation and watch history.
    """
    import copy
    import uuid

    from shared.naming import container_group_name
    from shared.status import pod_status_from_container_group
    from shared.tags import with_cluster
    from shared.translate import translate_pod
    from shared.worker import with_spec_hash
    from tests.fakes.connector_fixtures import make_pod
    from tests.fakes.kube_resources import resolve

    names = []
    now = arm.state.now()
    cluster = kube_api.get("namespaces", None, "kube-system")["metadata"]["uid"]  # the worker's cluster tag
    template = kube_api.create(make_pod(name="p00000"))
    created_status = template.pop("status", None) or {}
    loaded = []
    for index in range(count):
        pod = copy.deepcopy(template)
        pod["metadata"].update(name=f"p{index:05d}", uid=str(uuid.uuid4()), labels={"app": f"p{index:05d}"})
        name = container_group_name(pod)
        body = with_cluster(with_spec_hash(translate_pod(pod, settings=settings).body), cluster)
        record, _, _ = arm.state.upsert(arm.subscription_id, arm.resource_group, name, body)
        record.created = now - 60
        status = pod_status_from_container_group(arm.state.render(record, instance_view=True), pod)
        pod["status"] = {**created_status, **status}  # what the worker's merge patch of the status leaves
        loaded.append(pod)
        names.append(name)
    kube_api.store.load(resolve("pods"), loaded)  # replaces the template pod p00000 too
    return names


WORKSPACE = "11111111-2222-3333-4444-555555555555"


def serve(port: int, pods: int, ingestion_delay: float | None) -> None:
    from emulator.clock import ManualClock
    from tests.fakes.arm_fixtures import fake_arm
    from tests.fakes.connector_fixtures import settings_for
    from tests.fakes.kube_api import KubeApiServer
    from tests.fakes.loganalytics import LogAnalyticsServer

    kube_api = KubeApiServer(port=port)
    kube_api.start()
    clock = ManualClock() if ingestion_delay is not None else None  # freshness: simulated minutes
    arm = fake_arm(clock=clock)
    arm.start()
    arm.throttle.enabled = False  # the polling baseline would be throttled first
    arm.throttle.container_groups_quota = arm.throttle.standard_cores_quota = 10**6  # the budget mode creates more
    arm.state.emit_events = True
    names = seed(kube_api, arm, settings_for(kube_api.url, arm), pods)
    workspace = None
    if clock is not None and ingestion_delay is not None:
        for name in names:
            arm.make_ready(name)
        workspace = LogAnalyticsServer(WORKSPACE, clock=clock, ingestion_delay=ingestion_delay)
        workspace.start()
        arm.state.container_observers.append(lambda group, _container, reason: workspace.add_event(group, reason))
    print(kube_api.url, f"arm={arm.url}", f"ca={arm.ca_pem_path}", sep="\n", flush=True)
    if workspace is not None and clock is not None:
        print(f"workspace={workspace.url} {workspace.ca_pem_path} {clock.now()}", flush=True)
    try:
        for line in sys.stdin:
            command, *args = line.split()
            answer: dict[str, Any]
            if command == "counts":
                answer = {
                    "kube": sum(kube_api.request_counts.values()),
                    "patches": kube_api.request_counts[("PATCH", "pods/status")],
                    "get": arm.counts["get"],
                    "list": arm.counts["list"],
                    "usages": arm.counts["usages"],
                    "put": arm.counts["put"],
                }
            elif command == "latency":
                arm.faults.latency = float(args[0])
                answer = {"latency": arm.faults.latency}
            elif command == "churn":
                fraction, rng = float(args[0]), random.Random(int(args[1]))
                changed = rng.sample(names, max(1, round(len(names) * fraction)))
                for name in changed:
                    arm.terminate(name, exit_code=1)
                answer = {"changed": changed}
            elif command == "exit":  # these groups' containers exit now (ACI restarts them)
                for name in args:
                    arm.terminate(name, exit_code=1)
                answer = {"exited": len(args)}
            elif command == "advance" and clock is not None:
                clock.advance(float(args[0]))
                answer = {"now": clock.now()}
            elif command == "restarts":  # restart counts the pods' statuses show, by group
                answer = {}
                for name in args:
                    pod_name = arm.group(name).spec["tags"]["k8s-pod-name"]
                    statuses = ((kube_api.get("pods", "default", pod_name) or {}).get("status") or {}).get(
                        "containerStatuses"
                    ) or [{}]
                    answer[name] = int(statuses[0].get("restartCount") or 0)
            else:
                answer = {"error": f"unknown command {command!r}"}
            print(json.dumps(answer), flush=True)
    finally:
        if workspace is not None:
            workspace.stop()
        arm.stop()
        kube_api.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--pods", type=int, required=True)
    parser.add_argument(
        "--ingestion-delay",
        type=float,
        default=None,
        help="freshness mode: a manual clock, every group Running, and a Log Analytics workspace fed with this delay",
    )
    args = parser.parse_args()
    serve(args.port, args.pods, args.ingestion_delay)


if __name__ == "__main__":
    main()
