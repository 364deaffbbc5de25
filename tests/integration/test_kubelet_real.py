"""kubectl logs / exec / top against pods on the virtual node, through a real kube-apiserver to the relay's kubelet API.

The apiserver (1.20, tests/fakes/kube_real.py) is started with a kubelet client certificate, as clusters are,
and reaches the kubelet API at the Node's InternalIP: a non-loopback address of this machine, because the
apiserver refuses to proxy `nodes/proxy` to loopback. TokenReview and SubjectAccessReview are the real ones.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

kube_real = pytest.importorskip("tests.fakes.kube_real", reason="the real kube-apiserver test ground (issue 12)")

pytestmark = pytest.mark.real_kube

NODE = "aci-connector-linux"
APISERVER_USER = "kube-apiserver-kubelet-client"


def _local_address() -> str | None:
    """An address of this machine that is not loopback (the apiserver will not proxy nodes/proxy to 127.0.0.1)."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        address = probe.getsockname()[0]
        if not address.startswith("127."):
            return address
    return None


@dataclass
class Cluster:
    real: Any
    arm: Any
    aci: Any
    server: Any
    ca: Any
    address: str
    workdir: Path
    kubeconfig: Path

    def kubectl(
        self, *args: str, stdin: str | None = None, timeout: float = 60, spdy: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """kubectl as the admin; `spdy` turns its WebSocket remote command off (what old kubectl versions send)."""
        env = {**os.environ, "KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"} if spdy else None
        return subprocess.run(
            ["kubectl", f"--kubeconfig={self.kubeconfig}", "--request-timeout=30s", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
        )

    def cert(self, user: str, group: str | None = None) -> tuple[str, str]:
        issued = self.ca.issue_cert(common_name=user, organization_name=group)
        cert, key = self.workdir / f"{user}.crt", self.workdir / f"{user}.key"
        issued.cert_chain_pems[0].write_to_path(str(cert))
        issued.private_key_pem.write_to_path(str(key))
        return str(cert), str(key)

    def kubelet_get(self, path: str, cert: tuple[str, str] | None) -> Any:
        import requests

        url = f"https://{self.address}:{self.server.ports[NODE]}{path}"
        return requests.get(url, cert=cert, verify=self.server.cert_file, timeout=15)

    def run_pod(self, name: str = "web") -> str:
        from shared.naming import container_group_name
        from shared.node import endpoint_status
        from shared.translate import pod_to_container_group
        from tests.fakes.connector_fixtures import make_pod, settings_for

        if self.real.get("nodes", None, NODE) is None:
            self.real.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
            status = endpoint_status(NODE, {"address": self.address, "port": self.server.ports[NODE]})
            self.real.patch("nodes", None, NODE, {"status": status}, subresource="status")
        pod = self.real.create(make_pod(name))
        group = container_group_name(pod)
        self.aci.begin_create_or_update(group, pod_to_container_group(pod, settings=settings_for(None, self.arm)))
        self.arm.make_ready(group)
        running = {"status": {"phase": "Running"}}  # what the reconciler writes once ACI runs the group
        self.real.patch("pods", "default", name, running, subresource="status")
        return group


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    import trustme

    from shared.config import load_settings
    from shared.kube import KubeClient, build_api_client
    from shared.relay.kubelet.config import KubeletConfig
    from shared.relay.kubelet.server import KubeletServer
    from tests.fakes.arm_fixtures import adapter_for, fake_arm

    address = _local_address()
    if address is None:
        pytest.skip("no non-loopback address to serve the kubelet API on")
    workdir = tmp_path_factory.mktemp("kubelet-real")
    ca = trustme.CA()  # the cluster CA of the kubelet client certificates
    ca.cert_pem.write_to_path(str(workdir / "kubelet-client-ca.crt"))
    client = ca.issue_cert(common_name=APISERVER_USER, organization_name="system:masters")
    client.cert_chain_pems[0].write_to_path(str(workdir / "apiserver-kubelet-client.crt"))
    client.private_key_pem.write_to_path(str(workdir / "apiserver-kubelet-client.key"))
    real = kube_real.RealKube(
        extra_args=[
            f"--kubelet-client-certificate={workdir / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={workdir / 'apiserver-kubelet-client.key'}",
            "--kubelet-preferred-address-types=InternalIP,Hostname",
        ]
    )
    try:
        real.start()
    except kube_real.RealKubeUnavailable as error:
        real.stop()
        pytest.skip(f"real kube-apiserver unavailable: {error}")
    arm = fake_arm()
    arm.start()
    aci = adapter_for(arm.url, arm.ca_pem_path)
    settings = load_settings(
        {"KUBE_API_URL": real.url, "KUBE_BEARER_TOKEN": real.admin_token, "KUBE_CA_CERT": real.ca_pem}
    )
    kube = KubeClient(build_api_client(settings))
    config = KubeletConfig(
        nodes=(NODE,),
        port=0,
        host=address,
        address=address,
        client_ca=str(workdir / "kubelet-client-ca.crt"),
        log_poll_seconds=0.1,
        metrics_endpoint=arm.url,
    )
    server = KubeletServer(config, kube, aci)
    server.start()
    try:
        yield Cluster(real, arm, aci, server, ca, address, workdir, real.kubeconfig(workdir / "kubeconfig"))
    finally:
        server.stop()
        aci.close()
        arm.stop()
        real.stop()


@pytest.fixture
def ground(cluster: Cluster) -> Cluster:
    cluster.real.reset()
    return cluster


def test_kubectl_logs_and_tail_with_timestamps(ground: Cluster) -> None:
    group = ground.run_pod()
    ground.arm.set_logs(group, "nginx", "one\ntwo\nthree\n")
    logs = ground.kubectl("logs", "web")
    assert (logs.returncode, logs.stdout) == (0, "one\ntwo\nthree\n"), logs.stderr
    tailed = ground.kubectl("logs", "web", "--tail=2", "--timestamps")
    assert tailed.returncode == 0, tailed.stderr
    assert [line.split(" ", 1)[1] for line in tailed.stdout.splitlines()] == ["two", "three"]
    previous = ground.kubectl("logs", "web", "--previous")
    assert previous.returncode != 0 and "keeps only the current instance" in previous.stderr


def test_kubectl_logs_follow_sees_new_lines_and_ends_with_the_container(ground: Cluster) -> None:
    group = ground.run_pod()
    ground.arm.write_log(group, "nginx", "first")
    follow = subprocess.Popen(
        ["kubectl", f"--kubeconfig={ground.kubeconfig}", "logs", "-f", "web"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follow.stdout is not None
        assert follow.stdout.readline() == "first\n"
        ground.arm.write_log(group, "nginx", "written after kubectl started")
        assert follow.stdout.readline() == "written after kubectl started\n"
        terminated = {"terminated": {"exitCode": 0, "reason": "Completed"}}
        status = {
            "name": "nginx",
            "ready": False,
            "restartCount": 0,
            "image": "nginx",
            "imageID": "",
            "state": terminated,
        }
        ground.real.patch("pods", "default", "web", {"status": {"containerStatuses": [status]}}, subresource="status")
        assert follow.wait(timeout=30) == 0, follow.stderr.read() if follow.stderr else ""
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()


def test_kubectl_exec_echo_stdin_and_refused_argv(ground: Cluster) -> None:
    ground.run_pod()
    echo = ground.kubectl("exec", "web", "--", "echo", "hi")
    assert (echo.returncode, echo.stdout) == (0, "hi\n"), echo.stderr
    cat = ground.kubectl("exec", "-i", "web", "--", "cat", stdin="hello\nworld\n")
    assert (cat.returncode, cat.stdout) == (0, "hello\nworld\n"), cat.stderr
    refused = ground.kubectl("exec", "web", "--", "sh", "-c", "exit 3")
    assert refused.returncode != 0 and "argument 2 ('exit 3')" in refused.stderr
    assert ground.arm.exec.commands[-2:] == ["echo hi", "cat"], "the refused argv never reached ACI"


def test_kubectl_exec_over_spdy(ground: Cluster) -> None:
    ground.run_pod()
    echo = ground.kubectl("exec", "web", "--", "echo", "hi", spdy=True)
    assert (echo.returncode, echo.stdout) == (0, "hi\n"), echo.stderr
    cat = ground.kubectl("exec", "-i", "web", "--", "cat", stdin="over spdy\n", spdy=True)
    assert (cat.returncode, cat.stdout) == (0, "over spdy\n"), cat.stderr


def test_stats_summary_through_the_node_proxy(ground: Cluster) -> None:
    import json

    group = ground.run_pod()
    ground.arm.metrics.set(group, "nginx", 250, 64 * 2**20)
    ground.server.stats._snapshot = None  # a fresh round for this test's pod
    raw = ground.kubectl("get", "--raw", f"/api/v1/nodes/{NODE}/proxy/stats/summary")
    assert raw.returncode == 0, raw.stderr
    summary = json.loads(raw.stdout)
    assert summary["node"]["cpu"]["usageNanoCores"] == 250_000_000
    assert summary["pods"][0]["podRef"]["name"] == "web"


def test_no_or_foreign_client_certificate_is_refused(ground: Cluster) -> None:
    import requests
    import trustme

    ground.run_pod()
    assert ground.kubelet_get("/healthz", cert=None).status_code == 401
    other = trustme.CA().issue_cert(common_name=APISERVER_USER, organization_name="system:masters")
    cert, key = ground.workdir / "foreign.crt", ground.workdir / "foreign.key"
    other.cert_chain_pems[0].write_to_path(str(cert))
    other.private_key_pem.write_to_path(str(key))
    with pytest.raises(requests.exceptions.ConnectionError):  # SSLError is one: the handshake fails
        ground.kubelet_get("/healthz", cert=(str(cert), str(key)))


def test_the_kubelets_own_subject_access_review_refuses_a_user_without_nodes_proxy(ground: Cluster) -> None:
    import requests

    ground.run_pod()
    viewer = ground.cert("viewer")
    denied = ground.kubelet_get("/containerLogs/default/web/nginx", cert=viewer)
    assert denied.status_code == 403 and "user=viewer" in denied.text and "subresource=proxy" in denied.text
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "node-proxy"},
        "rules": [{"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]}],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "node-proxy-logger"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "node-proxy"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "logger"}],
    }
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    ground.real.request("POST", f"{rbac}/clusterroles", role)
    ground.real.request("POST", f"{rbac}/clusterrolebindings", binding)
    allowed = ground.kubelet_get("/containerLogs/default/web/nginx", cert=ground.cert("logger"))
    assert allowed.status_code == 200, allowed.text
    token = ground.real.service_account_token("default", "reader")
    url = f"https://{ground.address}:{ground.server.ports[NODE]}/healthz"
    answer = requests.get(url, headers={"Authorization": f"Bearer {token}"}, verify=ground.server.cert_file, timeout=15)
    assert answer.status_code == 403 and "system:serviceaccount:default:reader" in answer.text, answer.text
