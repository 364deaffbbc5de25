"""Shared builders for the status tests (no tests here): recorded ARM bodies, pods shaped like API output."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
UID = "3f0c8a52-2b1e-4c1e-9a4e-0d6a1c2b7e10"
NODE = "virtual-node-aci-linux"
NOW = datetime(2023, 4, 26, 8, 30, 0, tzinfo=UTC)
NOW_TEXT = "2023-04-26T08:30:00Z"


def aci(name: str) -> dict:
    """A recorded ARM body from tests/fixtures/aci-responses."""
    return json.loads((FIXTURES / "aci-responses" / name).read_text())


def k8s_pod(name: str) -> dict:
    """A recorded Pod from tests/fixtures/k8s-pods."""
    return json.loads((FIXTURES / "k8s-pods" / name).read_text())


def listed(name: str, index: int = 0) -> dict:
    """One element of a recorded list body (no instanceView anywhere)."""
    return aci(name)["value"][index]


def container(name: str, image: str, requests: dict | None = None, limits: dict | None = None) -> dict:
    resources: dict = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return {
        "name": name,
        "image": image,
        "resources": resources,
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "Always",
    }


def make_pod(
    name: str,
    containers: list[dict],
    *,
    init: list[dict] | None = None,
    restart_policy: str = "Always",
    qos: str = "Burstable",
    status: dict | None = None,
) -> dict:
    """A Pod as the API server returns it right after create + bind to the virtual node."""
    spec: dict = {
        "containers": containers,
        "restartPolicy": restart_policy,
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "nodeName": NODE,
        "schedulerName": "default-scheduler",
    }
    if init:
        spec["initContainers"] = init
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": UID,
            "resourceVersion": "1001",
            "creationTimestamp": "2023-04-26T08:00:00Z",
        },
        "spec": spec,
        "status": status if status is not None else {"phase": "Pending", "qosClass": qos},
    }


def with_status(pod: dict, status: dict) -> dict:
    """The pod after our status patch was stored (what the next reconcile reads)."""
    out = copy.deepcopy(pod)
    out["status"] = copy.deepcopy(status)
    return out


def pod_for_running_group() -> dict:
    """The pod behind get-running-with-instanceview.json / list-by-resource-group.json style groups."""
    return make_pod(
        "web-0",
        [container("containergrp2816", "alpine", requests={"cpu": "1", "memory": "1536Mi"})],
        init=[container("containergrp2816init", "alpine")],
        restart_policy="Never",
    )


def pod_for_py_group(restart_policy: str = "OnFailure") -> dict:
    """The pod behind the py-*.json bodies (one container, alpine:latest, 1 cpu / 1 GiB)."""
    return make_pod(
        "job-0",
        [container("pycontainer26441510", "alpine:latest", requests={"cpu": "1", "memory": "1Gi"})],
        restart_policy=restart_policy,
    )


def set_state(group: dict, name: str, view: dict, *, key: str = "containers") -> dict:
    """Hand-build: give container `name` of a recorded body this instanceView."""
    out = copy.deepcopy(group)
    for item in out["properties"][key]:
        if item["name"] == name:
            item["properties"]["instanceView"] = view
            return out
    raise KeyError(name)


def set_group_state(group: dict, state: str, events: list[dict] | None = None) -> dict:
    out = copy.deepcopy(group)
    out["properties"]["instanceView"] = {"events": events or [], "state": state}
    return out


def renamed(group: dict, names: dict[str, str], image: str | None = None) -> dict:
    """A recorded body with its containers renamed to a real pod's container names."""
    out = copy.deepcopy(group)
    for key in ("containers", "initContainers"):
        for item in out["properties"].get(key) or []:
            if item["name"] in names:
                item["name"] = names[item["name"]]
                if image:
                    item["properties"]["image"] = image
    return out
