"""The walkthrough's manifests (docs/examples) are valid pods that land on the right virtual node and translate.

Also runs the walkthrough's flows on the fakes: the Windows IIS pod through the queue worker (group created as
Windows, pod still Pending until ACI runs it, group gone after the delete), and the standalone path where
`python -m shared.cli submit -f docs/examples/standalone-pod.yaml` alone yields a container group.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from shared import cli
from shared.config import POD_EVENTS_QUEUE, load_settings
from shared.messages import Message, PodRef, parse_message
from shared.naming import container_group_name
from shared.node import node_labels, parse_taint
from shared.translate import pod_to_container_group
from shared.worker import Context, process_message
from tests.fakes.connector_fixtures import settings_for
from tests.fakes.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
WALKTHROUGH = ROOT / "docs" / "walkthrough.md"
BOTH = load_settings({"VIRTUAL_NODE_OS": "linux,windows"})


def load(name: str) -> dict[str, Any]:
    (doc,) = [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]
    return doc


def example_names() -> list[str]:
    return sorted(p.name for p in EXAMPLES.glob("*.yaml"))


def tolerates(pod: dict[str, Any], taint: dict[str, str]) -> bool:
    for toleration in pod["spec"].get("tolerations") or []:
        key_ok = toleration.get("key") in (None, "", taint["key"])
        value_ok = toleration.get("operator") == "Exists" or toleration.get("value") == taint.get("value")
        effect_ok = toleration.get("effect") in (None, "", taint["effect"])
        if key_ok and value_ok and effect_ok:
            return True
    return False


def schedulable_on(pod: dict[str, Any], labels: dict[str, str], taints: list[dict[str, str]]) -> bool:
    """nodeSelector and taints, as the scheduler filters (the examples use nothing else)."""
    selector = pod["spec"].get("nodeSelector") or {}
    return all(labels.get(k) == v for k, v in selector.items()) and all(tolerates(pod, t) for t in taints)


def virtual_node_for(pod: dict[str, Any]) -> tuple[str, str] | None:
    """(os, node name) of the one virtual node the scheduler could pick, None when none fits."""
    taint = parse_taint(BOTH["VIRTUAL_NODE_TAINT"])
    fits = [
        (os_name, name)
        for os_name, name in BOTH.node_names.items()
        if schedulable_on(pod, node_labels(os_name, name), [taint])
    ]
    assert len(fits) <= 1, fits
    return fits[0] if fits else None


def test_the_walkthrough_uses_every_example_and_only_existing_ones():
    text = WALKTHROUGH.read_text()
    mentioned = set(re.findall(r"docs/examples/([\w.-]+\.yaml)", text))
    assert mentioned == set(example_names())


@pytest.mark.parametrize("name", example_names())
def test_example_is_a_valid_pod(name: str):
    pod = load(name)
    assert pod["kind"] == "Pod"
    kubernetes_validate.validate(pod, "1.30", strict=True)


@pytest.mark.parametrize(("name", "os_name"), [("iis-windows.yaml", "windows"), ("nginx-linux.yaml", "linux")])
def test_cluster_example_lands_on_its_virtual_node_and_translates(name: str, os_name: str):
    pod = load(name)
    chosen = virtual_node_for(pod)
    assert chosen is not None and chosen[0] == os_name
    ordinary = {"kubernetes.io/os": os_name, "kubernetes.io/hostname": "aks-nodepool1-0"}
    assert not schedulable_on(pod, ordinary, []), "the pod must not land on an ordinary node"
    pod["spec"]["nodeName"] = chosen[1]
    body = pod_to_container_group(pod, settings=BOTH)
    assert body["properties"]["osType"] == os_name.capitalize()
    (container,) = body["properties"]["containers"]
    assert container["properties"]["image"] == pod["spec"]["containers"][0]["image"]
    assert body["properties"]["ipAddress"]["type"] == "Public"
    assert body["properties"]["ipAddress"]["ports"] == [{"port": 80, "protocol": "TCP"}]


def test_standalone_example_translates_without_a_node():
    pod = load("standalone-pod.yaml")
    assert virtual_node_for(pod) is None, "standalone pods are not scheduled by a cluster"
    body = pod_to_container_group(pod)
    assert body["properties"]["osType"] == "Linux"


def test_walkthrough_message_one_liner(tmp_path: Path):
    """The doc's `python -c ...` that builds the message for `az storage message put`, run as written."""
    import shlex
    import subprocess
    import sys

    (line,) = [ln for ln in WALKTHROUGH.read_text().splitlines() if ln.startswith("MESSAGE=$(python -c ")]
    words = shlex.split(line[len("MESSAGE=$(") : -1])
    assert words[0] == "python"
    result = subprocess.run(
        [sys.executable, *words[1:]], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    message = parse_message(result.stdout.strip())
    assert message.op == "upsert"
    assert message.manifest["metadata"]["name"] == "hello-aci"


def test_windows_iis_walkthrough_on_the_fakes(kube_api: Any, kube: Any, arm: Any, aci_adapter: Any, queue_store: Any):
    settings = settings_for(kube_api.url, arm, VIRTUAL_NODE_OS="linux,windows")
    context = Context(settings=settings, aci=aci_adapter, queue=queue_store, kube=kube)
    pod = load("iis-windows.yaml")
    pod["spec"]["nodeName"] = virtual_node_for(pod)[1]  # what the scheduler's binding does
    pod = kube_api.create(pod)
    meta = pod["metadata"]
    upsert = Message(op="upsert", pod=PodRef(meta["namespace"], meta["name"], meta["uid"]), source="watch")
    outcome = process_message(upsert.to_text(), context=context)
    group_name = container_group_name(pod)
    assert (outcome.action, outcome.group) == ("created", group_name)
    assert aci_adapter.get(group_name)["properties"]["osType"] == "Windows"
    stored = kube_api.get("pods", meta["namespace"], meta["name"])
    assert (stored.get("status") or {}).get("phase", "Pending") == "Pending", "Running only once ACI runs it"

    kube_api.delete("pods", meta["namespace"], meta["name"])  # kubectl delete pod: graceful, the agent finishes it
    delete = Message(op="delete", pod=PodRef(meta["namespace"], meta["name"], meta["uid"]), source="watch")
    assert process_message(delete.to_text(), context=context).action in ("deleting", "deleted")
    wait_for(lambda: aci_adapter.get(group_name) is None)
    assert group_name not in {g["name"] for g in aci_adapter.list_groups()}, "az container list no longer shows it"
    process_message(delete.to_text(), context=context)  # the next hint (ARM delete event) finishes the pod
    assert kube_api.get("pods", meta["namespace"], meta["name"]) is None, "kubectl get pods no longer shows it"


def test_standalone_walkthrough_cli_to_container_group(
    tmp_path: Path, azurite: Any, arm: Any, aci_adapter: Any, queue_store: Any, monkeypatch: pytest.MonkeyPatch, capsys
):
    for name in ("KUBE_API_URL", "KUBECONFIG", "KUBE_IN_CLUSTER", "AzureWebJobsStorage"):
        monkeypatch.delenv(name, raising=False)
    settings_file = tmp_path / "local.settings.json"
    settings_file.write_text(json.dumps({"Values": {"AzureWebJobsStorage": azurite.connection_string}}))
    pod_file = str(EXAMPLES / "standalone-pod.yaml")
    assert cli.main(["--settings-file", str(settings_file), "submit", "-f", pod_file]) == 0
    assert "queued upsert default/hello-aci" in capsys.readouterr().out
    (queued,) = queue_store.peek(queue=POD_EVENTS_QUEUE)
    message = parse_message(queued.text)
    assert message.manifest is not None, "no cluster: the manifest travels in the message"

    context = Context(settings=settings_for(None, arm), aci=aci_adapter, queue=queue_store, kube=None)
    outcome = process_message(queued.text, context=context)
    assert outcome.action == "created"
    assert aci_adapter.get(outcome.group)["properties"]["osType"] == "Linux"

    assert cli.main(["--settings-file", str(settings_file), "delete", "default/hello-aci"]) == 0
    texts = [m.text for m in queue_store.peek(queue=POD_EVENTS_QUEUE)]
    assert process_message(texts[-1], context=context).action == "deleted"
    wait_for(lambda: aci_adapter.get(outcome.group) is None)
