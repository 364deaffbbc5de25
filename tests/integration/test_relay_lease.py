"""shared.kube.lease.renew_lease against the fake API: create, renew, defer to a fresh renewal, survive a 409."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from shared.kube import Conflict, KubeClient
from shared.kube.lease import renew_lease

NODE = "aci-connector-linux"
MICRO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
T0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


def test_creates_the_lease_owned_by_the_node_with_microsecond_renew_time(kube_api, kube_client):
    node = kube_api.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
    assert renew_lease(KubeClient(kube_client), NODE, "relay-1", now=T0) is True
    lease = kube_api.get("leases", "kube-node-lease", NODE)
    assert lease["spec"] == {
        "holderIdentity": "relay-1",
        "leaseDurationSeconds": 40,
        "renewTime": "2026-11-27T10:00:00.000000Z",
    }
    assert lease["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]


def test_fallback_renewer_leaves_a_fresh_lease_alone_and_renews_a_stale_one(kube_api, kube_client):
    kube = KubeClient(kube_client)
    assert renew_lease(kube, NODE, NODE, now=T0)
    assert renew_lease(kube, NODE, "reconciler", only_if_older_than=20, now=T0 + timedelta(seconds=10)) is False
    assert kube_api.get("leases", "kube-node-lease", NODE)["spec"]["holderIdentity"] == NODE
    later = T0 + timedelta(seconds=25, microseconds=123456)
    assert renew_lease(kube, NODE, "reconciler", only_if_older_than=20, now=later) is True
    spec = kube_api.get("leases", "kube-node-lease", NODE)["spec"]
    assert spec["renewTime"] == "2026-11-27T10:00:25.123456Z" and MICRO.match(spec["renewTime"])


@pytest.mark.fake_kube_only("injects a 409 on the lease update")
def test_a_conflicting_update_is_re_read_and_decided_again(kube_api, kube_client):
    kube = KubeClient(kube_client)
    assert renew_lease(kube, NODE, NODE, now=T0)
    kube_api.faults.inject(409, verb="PUT", resource="leases")  # another renewer won the race once
    assert renew_lease(kube, NODE, NODE, now=T0 + timedelta(seconds=10)) is True
    assert kube_api.request_counts[("PUT", "leases")] == 2
    assert kube_api.get("leases", "kube-node-lease", NODE)["spec"]["renewTime"] == "2026-11-27T10:00:10.000000Z"


def test_a_stale_resource_version_loses_instead_of_overwriting(kube_api, kube_client):
    """Two renewers that read the same version: the second write is refused by the API (real 409), never blind."""
    kube = KubeClient(kube_client)
    renew_lease(kube, NODE, NODE, now=T0)
    stale = kube_api.get("leases", "kube-node-lease", NODE)
    assert renew_lease(kube, NODE, NODE, now=T0 + timedelta(seconds=10))
    stale["spec"]["holderIdentity"] = "stale-writer"
    with pytest.raises(Conflict):
        kube.request("PUT", f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{NODE}", body=stale)
    assert kube_api.get("leases", "kube-node-lease", NODE)["spec"]["holderIdentity"] == NODE
