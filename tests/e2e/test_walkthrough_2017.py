"""Issue 20, done-when: the 2017 walkthrough word for word on a real kube-apiserver, with kubectl.

Under VIRTUAL_NODE_PROFILE=aci-connector-2017 the issue's YAML (pinned to aci-connector-1, no ports) is applied
with kubectl; the reconciler and the queue worker (through real Azurite) create its group in the ACI emulator,
whose clock the test steps, so every state is observed on purpose and none is waited for: the pod is Pending
while the emulator says Pending and Creating, Running only once it says Running, with the group's IP as pod
IP; the group is Windows, 1 CPU / 1.5 GB, port 80/TCP on its public IP (the profile's opt-in, told by a Normal
Event). `kubectl delete pod` then removes the group first and the pod only once the group is gone. Without the
profile the same pod gets the VirtualNodeNotServed Warning Event from the reconciler's first cycle.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.clock import ManualClock
from emulator.state import Timing
from shared.config import POD_EVENTS_QUEUE, load_settings
from shared.kube import KubeClient, build_api_client
from shared.naming import container_group_name
from shared.reconcile import ReconcileConfig, Reconciler
from shared.reconcile.unserved import REASON
from shared.worker import Context, process_message
from tests.fakes.arm_fixtures import adapter_for, fake_arm

pytest.importorskip("tests.fakes.kube_real", reason="the real kube-apiserver test ground (issue 12)")

pytestmark = pytest.mark.real_kube

ISSUE_YAML = """\
apiVersion: v1
kind: Pod
metadata:
  name: iis-winsvrcore
spec:
  containers:
  - image: microsoft/iis:windowsservercore
    imagePullPolicy: Always
    name: iis-winsvrcore
  dnsPolicy: ClusterFirst
  nodeName: aci-connector-1
"""
"""Exactly the YAML issue 20 quotes from the 2017 walkthrough."""
TIMING = Timing(pending=2.0, creating=3.0, deleting=2.0)


class Walkthrough:
    """kubectl on the real apiserver, and the connector's two loops run a step at a time."""

    def __init__(self, real_kube: Any, arm: Any, clock: ManualClock, queue_store: Any, tmp: Path, **env: str) -> None:
        self.arm = arm
        self.clock = clock
        self.kubeconfig = str(real_kube.kubeconfig(tmp / "kubeconfig"))
        settings = load_settings(
            {
                "KUBE_API_URL": real_kube.url,
                "KUBE_BEARER_TOKEN": real_kube.admin_token,
                "KUBE_CA_CERT": real_kube.ca_pem,
                "AZURE_SUBSCRIPTION_ID": arm.subscription_id,
                "ACI_RESOURCE_GROUP": arm.resource_group,
                "ACI_REGION": arm.location,
                "ARM_READS_PER_MINUTE": "6000",
                "CLUSTER_ID": "walkthrough-2017",
                **env,
            }
        )
        self.aci = adapter_for(arm.url, arm.ca_pem_path, region=arm.location)
        kube = KubeClient(build_api_client(settings))
        self.ctx = Context(settings=settings, aci=self.aci, queue=queue_store, kube=kube)
        self.reconciler = Reconciler(self.ctx, config=ReconcileConfig(lease_only_if_older_than=0))

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            ["kubectl", "--kubeconfig", self.kubeconfig, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout

    def pod(self) -> dict[str, Any] | None:
        found = json.loads(self.kubectl("get", "pods", "-o", "json"))["items"]
        return next((p for p in found if p["metadata"]["name"] == "iis-winsvrcore"), None)

    def events(self, reason: str) -> list[dict[str, Any]]:
        items = json.loads(self.kubectl("get", "events", "-o", "json"))["items"]
        return [e for e in items if e.get("reason") == reason]

    def cycle(self) -> Any:
        report = self.reconciler.run_cycle()
        assert not [e for e in report.errors if "node" in e or "pod" in e], report.errors
        return report

    def drain(self) -> list[str]:
        client = self.ctx.queue.client(POD_EVENTS_QUEUE)
        actions = []
        for message in client.receive_messages(max_messages=32, visibility_timeout=5):
            actions.append(process_message(message.content, context=self.ctx).action)
            client.delete_message(message)
        return actions

    def provisioning(self, name: str) -> str | None:
        group = self.aci.get(name)
        return None if group is None else group["properties"]["provisioningState"]


@pytest.fixture
def emulator() -> Iterator[tuple[Any, ManualClock]]:
    clock = ManualClock()
    with fake_arm(clock, timing=TIMING) as arm:
        yield arm, clock


def test_the_2017_walkthrough_word_for_word(real_kube, emulator, queue_store, tmp_path):
    arm, clock = emulator
    walk = Walkthrough(real_kube, arm, clock, queue_store, tmp_path, VIRTUAL_NODE_PROFILE="aci-connector-2017")

    walk.cycle()  # the virtual nodes register
    nodes = {n["metadata"]["name"]: n for n in json.loads(walk.kubectl("get", "nodes", "-o", "json"))["items"]}
    assert set(nodes) == {"aci-connector-0", "aci-connector-1"}
    for name, os_name in (("aci-connector-0", "linux"), ("aci-connector-1", "windows")):
        assert nodes[name]["metadata"]["labels"]["beta.kubernetes.io/os"] == os_name
        assert {"key": "azure.com/aci", "effect": "NoSchedule"} in nodes[name]["spec"]["taints"]
        ready = next(c for c in nodes[name]["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True"

    assert walk.kubectl("apply", "-f", "-", stdin=ISSUE_YAML).strip() == "pod/iis-winsvrcore created"
    pod = walk.pod()
    name = container_group_name(pod)
    assert walk.cycle().enqueued == 1
    assert walk.drain() == ["created"]

    seen: list[tuple[str, str]] = []
    for _ in range(20):  # half a second of emulated time per step, through Pending and Creating to Running
        walk.cycle()
        state = walk.provisioning(name)
        phase = walk.pod()["status"]["phase"]
        seen.append((state, phase))
        if phase == "Running":
            break
        clock.advance(0.5)
    assert ("Creating", "Pending") in seen, seen
    assert all(phase == "Pending" for state, phase in seen if state != "Succeeded"), seen
    assert seen[-1] == ("Succeeded", "Running"), seen

    group = walk.aci.get(name)
    properties = group["properties"]
    assert properties["instanceView"]["state"] == "Running"
    assert properties["osType"] == "Windows"
    (container,) = properties["containers"]
    assert container["properties"]["resources"]["requests"] == {"cpu": 1.0, "memoryInGB": 1.5}
    assert properties["ipAddress"]["type"] == "Public"
    assert properties["ipAddress"]["ports"] == [{"port": 80, "protocol": "TCP"}]
    wide = walk.kubectl("get", "pods", "-o", "wide").splitlines()[1].split()
    assert wide[0] == "iis-winsvrcore" and wide[2] == "Running"
    assert wide[5] == properties["ipAddress"]["ip"] == walk.pod()["status"]["podIP"]
    assert wide[6] == "aci-connector-1"
    (opened,) = walk.events("DefaultPortOpened")
    assert opened["type"] == "Normal" and "port 80/TCP" in opened["message"]
    assert walk.events(REASON) == []

    arm.delete_mode = "202"  # ACI's long-running delete, so the order (group, then pod) is observable
    walk.kubectl("delete", "pod", "iis-winsvrcore", "--wait=false")
    walk.cycle()  # the pod is being deleted: its group is deleted first
    assert walk.provisioning(name) == "Deleting"
    assert walk.pod()["metadata"]["deletionTimestamp"]
    clock.advance(TIMING.deleting + 0.5)
    assert walk.provisioning(name) is None
    walk.cycle()  # the group is gone: now the pod
    assert walk.pod() is None
    assert walk.kubectl("get", "pods").strip() == ""


def test_without_the_profile_the_pod_is_told_within_one_cycle(real_kube, emulator, queue_store, tmp_path):
    arm, clock = emulator
    walk = Walkthrough(real_kube, arm, clock, queue_store, tmp_path)
    walk.kubectl("apply", "-f", "-", stdin=ISSUE_YAML)

    report = walk.cycle()
    assert report.unserved_told == 1
    (warning,) = walk.events(REASON)
    assert warning["type"] == "Warning"
    assert warning["involvedObject"]["name"] == "iis-winsvrcore"
    assert "this ACI connector does not serve: it serves aci-connector-linux (Linux)" in warning["message"]
    assert "VIRTUAL_NODE_PROFILE=aci-connector-2017" in warning["message"]
    assert walk.cycle().unserved_told == 0
    assert len(walk.events(REASON)) == 1
    assert walk.pod()["status"]["phase"] == "Pending"
    assert arm.counts["put"] == 0
