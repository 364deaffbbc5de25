"""shared.kube against the fake apiserver: the ways users configure a cluster, and error mapping."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from shared.config import load_settings
from shared.errors import ConfigError
from shared.kube import Conflict, Expired, KubeClient, KubeUnavailable, build_api_client
from tests.fakes.connector_fixtures import make_pod
from tests.fakes.kube_fixtures import kube_settings

ROOT = Path(__file__).resolve().parents[2]


def test_api_url_and_bearer_token(kube_api):
    kube_api.create(make_pod())
    settings = load_settings(kube_settings(kube_api.url))
    client = KubeClient(build_api_client(settings))
    assert client.get_pod("default", "web")["metadata"]["name"] == "web"
    assert client.api_client.configuration.api_key["authorization"] == settings["KUBE_BEARER_TOKEN"]


def test_the_ca_is_written_once_per_process_and_removed_at_exit():
    """The library reads the CA from a file; a client built per call must not leave a file per call in /tmp."""
    script = (
        "from shared.config import load_settings\n"
        "from shared.kube import build_api_client\n"
        "settings = load_settings({'KUBE_API_URL': 'https://127.0.0.1:1', 'KUBE_BEARER_TOKEN': 't',"
        " 'KUBE_CA_CERT': 'PEM'})\n"
        "paths = {build_api_client(settings).configuration.ssl_ca_cert for _ in range(3)}\n"
        "(path,) = paths\n"
        "print(path, open(path).read())\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    path, content = result.stdout.split()
    assert content == "PEM"
    assert not os.path.exists(path)  # removed when the process ended


def test_kubeconfig_with_a_named_context(kube_api, tmp_path):
    kube_api.create(make_pod())
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "fake", "cluster": {"server": kube_api.url, **ca_data(kube_api)}},
            {"name": "elsewhere", "cluster": {"server": "http://127.0.0.1:9"}},
        ],
        "users": [{"name": "connector", "user": {"token": kube_settings(kube_api.url)["KUBE_BEARER_TOKEN"]}}],
        "contexts": [
            {"name": "aci", "context": {"cluster": "fake", "user": "connector"}},
            {"name": "other", "context": {"cluster": "elsewhere", "user": "connector"}},
        ],
        "current-context": "other",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    settings = load_settings({"KUBECONFIG": str(path), "KUBE_CONTEXT": "aci"})
    assert settings.cluster_configured
    client = KubeClient(build_api_client(settings))
    assert client.get_pod("default", "web") is not None


def ca_data(server) -> dict[str, str]:
    """certificate-authority-data for the real server's test CA (the fake serves plain HTTP)."""
    pem = kube_settings(server.url).get("KUBE_CA_CERT")
    return {"certificate-authority-data": base64.b64encode(pem.encode()).decode()} if pem else {}


def test_no_cluster_settings_is_a_clear_error():
    with pytest.raises(ConfigError, match="KUBE_API_URL"):
        build_api_client(load_settings({}))


def test_errors_are_mapped(kube, kube_api):
    assert kube.get_pod("default", "missing") is None
    pod = kube_api.create(make_pod())
    stale = dict(pod, metadata=dict(pod["metadata"], resourceVersion="1"))
    with pytest.raises(Conflict):
        kube.request("PUT", "/api/v1/namespaces/default/pods/web", body=stale)


@pytest.mark.fake_kube_only("injects 500 and 429 answers")
def test_server_errors_and_throttling_are_retryable(kube, kube_api):
    kube_api.create(make_pod())
    kube_api.faults.inject(500, count=1, verb="GET", resource="pods")
    with pytest.raises(KubeUnavailable):
        kube.get_pod("default", "web")
    kube_api.faults.inject(429, count=5, verb="GET", resource="pods", retry_after=2)
    with pytest.raises(KubeUnavailable) as throttled:
        kube.get_pod("default", "web")
    assert throttled.value.retry_after == 2


def test_unreachable_server_is_retryable():
    from kubernetes import client

    configuration = client.Configuration()
    configuration.host = "http://127.0.0.1:9"
    with pytest.raises(KubeUnavailable):
        KubeClient(client.ApiClient(configuration)).request("GET", "/api/v1/pods", timeout=2)


def test_delete_now_honours_the_uid_precondition(kube, kube_api):
    pod = kube_api.create(make_pod())
    kube_api.delete("pods", "default", "web")  # graceful: stays with a deletionTimestamp
    assert kube.delete_pod_now("default", "web", "another-uid") is False
    assert kube_api.get("pods", "default", "web") is not None
    assert kube.delete_pod_now("default", "web", pod["metadata"]["uid"]) is True
    assert kube_api.get("pods", "default", "web") is None


def test_status_patch_refuses_a_recreated_pod(kube, kube_api):
    old = kube_api.create(make_pod())
    kube_api.delete("pods", "default", "web", grace_period_seconds=0)
    kube_api.create(make_pod())
    with pytest.raises(Exception) as refused:
        kube.patch_pod_status("default", "web", old["metadata"]["uid"], {"phase": "Running"})
    assert getattr(refused.value, "status", None) in (409, 422)
    assert kube_api.get("pods", "default", "web")["status"]["phase"] == "Pending"


def test_event_with_the_same_name_bumps_its_count(kube, kube_api):
    from shared.kube.recorder import pod_event

    pod = kube_api.create(make_pod())
    event = pod_event(pod, reason="ProviderCreated", message="Created ACI container group x")
    kube.create_event("default", event)
    kube.create_event("default", event)
    [stored] = kube_api.list("events", "default")
    assert stored["count"] == 2


def test_watch_streams_events_and_raises_expired(kube, kube_api):
    _, version = kube.list_pods(field_selector="spec.nodeName=aci-connector-linux")
    seen: list[str] = []

    def create_later() -> None:
        kube_api.create(make_pod("a"))

    timer = threading.Timer(0.2, create_later)
    timer.start()
    for event in kube.watch("/api/v1/pods", query={"resourceVersion": version}, timeout_seconds=2):
        seen.append(f"{event['type']} {event['object']['metadata'].get('name')}")
        if event["type"] == "ADDED":
            break
    timer.join()
    assert seen[-1] == "ADDED a"


@pytest.mark.fake_kube_only("forces a 410: a real watch cache expires a version only after window overflow")
def test_watch_from_an_expired_resource_version_raises_expired(kube, kube_api):
    _, version = kube.list_pods()
    kube_api.faults.expire_next("WATCH", resource="pods")
    with pytest.raises(Expired):
        list(kube.watch("/api/v1/pods", query={"resourceVersion": version}, timeout_seconds=2))
