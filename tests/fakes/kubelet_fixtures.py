"""The relay's kubelet API on the fakes: a client-certificate CA, the server, and pods with groups in the fake ARM."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fakes.connector_fixtures import NODE, make_pod, settings_for

APISERVER_USER = "kube-apiserver-kubelet-client"


@dataclass
class KubeletGround:
    server: Any
    kube_api: Any
    arm: Any
    aci: Any
    cert: tuple[str, str]
    """(certificate file, key file) of the apiserver's kubelet client identity."""
    ca: Any

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.ports[NODE]}"

    def run_pod(self, name: str = "web", **spec: Any) -> dict[str, Any]:
        """A pod bound to the virtual node whose container group runs in the fake ARM."""
        from shared.naming import container_group_name
        from shared.translate import pod_to_container_group

        pod = self.kube_api.create(make_pod(name, **spec))
        group = container_group_name(pod)
        body = pod_to_container_group(pod, settings=settings_for(None, self.arm))
        self.aci.begin_create_or_update(group, body)
        self.arm.make_ready(group)
        running = {"status": {"phase": "Running"}}  # what the reconciler writes once ACI runs the group
        self.kube_api.patch("pods", "default", name, running, subresource="status")
        return pod

    def client_cert(self, user: str, *groups: str, tmp_path: Any) -> tuple[str, str]:
        issued = self.ca.issue_cert(common_name=user, organization_name=groups[0] if groups else None)
        cert, key = tmp_path / f"{user}.crt", tmp_path / f"{user}.key"
        issued.cert_chain_pems[0].write_to_path(str(cert))
        issued.private_key_pem.write_to_path(str(key))
        return str(cert), str(key)

    def get(self, path: str, *, cert: tuple[str, str] | str | None = "default", **kwargs: Any) -> Any:
        import requests

        return requests.get(
            self.url + path,
            cert=self.cert if cert == "default" else cert,
            verify=self.server.cert_file,
            timeout=10,
            **kwargs,
        )


@pytest.fixture
def kubelet(kube_api: Any, kube: Any, arm: Any, aci_adapter: Any, tmp_path: Any) -> Iterator[KubeletGround]:
    import trustme

    from shared.relay.kubelet.server import KubeletConfig, KubeletServer

    if not hasattr(kube_api, "reviews"):
        raise pytest.UsageError("the kubelet fixture scripts reviews on the fake: mark the test fake_kube_only")

    ca = trustme.CA()
    ca_file = tmp_path / "cluster-ca.crt"
    ca.cert_pem.write_to_path(str(ca_file))
    config = KubeletConfig(
        nodes=(NODE,),
        port=0,
        host="127.0.0.1",
        address="127.0.0.1",
        client_ca=str(ca_file),
        log_poll_seconds=0.05,
        metrics_endpoint=arm.url,
    )
    server = KubeletServer(config, kube, aci_adapter)
    server.start()
    ground = KubeletGround(server, kube_api, arm, aci_adapter, ("", ""), ca)
    ground.cert = ground.client_cert(APISERVER_USER, tmp_path=tmp_path)
    kube_api.reviews.grant(APISERVER_USER, "get", "nodes/proxy")
    kube_api.reviews.grant(APISERVER_USER, "create", "nodes/proxy")
    kube_api.reviews.grant(APISERVER_USER, "get", "nodes/stats")
    kube_api.reviews.grant(APISERVER_USER, "get", "nodes/metrics")
    try:
        yield ground
    finally:
        server.stop()
