"""The reconciler on real ARM bodies (tests/fixtures/aci-responses), renamed and tagged for a pod of ours."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from shared.naming import container_group_name
from shared.reconcile import ReconcileConfig, Reconciler
from shared.tags import pod_tags
from shared.worker import Context
from tests.fakes.connector_fixtures import make_pod, settings_for

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "aci-responses"


class RecordedAci:
    """Serves one recorded GET body, and the same body without instanceView as ARM's list does."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.gets = 0

    def list_groups(self) -> list[dict[str, Any]]:
        listed = copy.deepcopy(self.body)
        listed["properties"].pop("instanceView", None)
        for container in listed["properties"].get("containers") or []:
            container["properties"].pop("instanceView", None)
        return [listed]

    def get(self, name: str) -> dict[str, Any] | None:
        self.gets += 1
        return copy.deepcopy(self.body) if name == self.body["name"] else None


def recorded_for(pod: dict[str, Any], fixture: str) -> dict[str, Any]:
    body = json.loads((FIXTURES / fixture).read_text())
    container = pod["spec"]["containers"][0]["name"]
    body["properties"]["containers"][0]["name"] = container
    body["name"] = container_group_name(pod)
    body["tags"] = pod_tags(pod)
    return body


def test_running_recorded_group_makes_the_pod_running(kube_api, kube, arm, queue_store):
    pod = kube_api.create(make_pod(restartPolicy="Never"))
    aci = RecordedAci(recorded_for(pod, "get-running-with-instanceview.json"))
    ctx = Context(settings=settings_for(kube_api.url, arm), aci=aci, queue=queue_store, kube=kube)
    rec = Reconciler(ctx, config=ReconcileConfig(lease_only_if_older_than=0))
    report = rec.run_cycle()
    assert (report.arm_reads, report.status_patches, report.enqueued) == (1, 1, 0)
    status = kube_api.get("pods", "default", "web")["status"]
    view = aci.body["properties"]["containers"][0]["properties"]["instanceView"]
    [container] = status["containerStatuses"]
    assert status["phase"] == "Running"
    assert container["state"] == {"running": {"startedAt": view["currentState"]["startTime"][:19] + "Z"}}
    assert container["restartCount"] == view["restartCount"]
    assert status["podIP"] == aci.body["properties"]["ipAddress"]["ip"]
    assert rec.run_cycle().status_patches == 0


def test_terminated_recorded_group_makes_the_pod_succeeded(kube_api, kube, arm, queue_store):
    pod = kube_api.create(make_pod(restartPolicy="OnFailure"))
    aci = RecordedAci(recorded_for(pod, "py-get-succeeded-container-terminated-exit0.json"))
    ctx = Context(settings=settings_for(kube_api.url, arm), aci=aci, queue=queue_store, kube=kube)
    Reconciler(ctx, config=ReconcileConfig(lease_only_if_older_than=0)).run_cycle()
    status = kube_api.get("pods", "default", "web")["status"]
    assert status["phase"] == "Succeeded"
    terminated = status["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")
