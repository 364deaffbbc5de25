"""/stats/summary and /metrics/resource from the emulator's Azure Monitor batch metrics, cached per round."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from emulator.clock import ManualClock
from emulator.server import ArmServer
from shared.naming import container_group_name
from tests.fakes.arm_fixtures import fake_arm

pytestmark = pytest.mark.fake_kube_only(
    "grants through the fake's TokenReview/SubjectAccessReview model (kube_api.reviews)"
)


@pytest.fixture
def arm() -> Iterator[ArmServer]:
    """Metric points are stamped by the emulator's clock, which this test moves."""
    with fake_arm(clock=ManualClock()) as server:
        yield server


def test_summary_sums_pods_into_the_node_and_scrapes_share_one_round(kubelet: Any) -> None:
    web = kubelet.run_pod("web")
    api = kubelet.run_pod("api")
    kubelet.arm.metrics.set(container_group_name(web), "nginx", 250, 100 * 2**20)
    kubelet.arm.metrics.set(container_group_name(api), "nginx", 500, 50 * 2**20)
    from tests.fakes.connector_fixtures import make_pod

    kubelet.kube_api.create(make_pod("pending"))  # no group yet: left out of the metrics round
    summary = kubelet.get("/stats/summary").json()
    assert summary["node"]["nodeName"] == "aci-connector-linux"
    assert summary["node"]["cpu"]["usageNanoCores"] == 750_000_000
    assert summary["node"]["memory"]["workingSetBytes"] == 150 * 2**20
    pods = {pod["podRef"]["name"]: pod for pod in summary["pods"]}
    assert set(pods) == {"web", "api"}
    assert pods["web"]["containers"][0]["cpu"]["usageNanoCores"] == 250_000_000
    assert pods["api"]["memory"]["workingSetBytes"] == 50 * 2**20
    for _ in range(5):
        assert kubelet.get("/stats/summary").status_code == 200
        assert kubelet.get("/metrics/resource").status_code == 200
    assert kubelet.arm.metrics.calls == 1, "every scrape within the refresh interval reuses one batch round"


def test_resource_metrics_integrate_cpu_between_rounds(kubelet: Any) -> None:
    web = kubelet.run_pod("web")
    group = container_group_name(web)
    kubelet.arm.metrics.set(group, "nginx", 500, 2**20)
    now = [0.0]
    kubelet.server.stats.clock = lambda: now[0]
    first = kubelet.get("/metrics/resource").text
    assert 'container_memory_working_set_bytes{container="nginx",namespace="default",pod="web"} 1048576' in first
    assert 'container_cpu_usage_seconds_total{container="nginx",namespace="default",pod="web"} 0.000000000' in first
    kubelet.arm.advance(120)
    now[0] = 61.0
    second = kubelet.get("/metrics/resource").text
    line = next(x for x in second.splitlines() if x.startswith("container_cpu_usage_seconds_total{"))
    assert float(line.split()[1]) == 60.0, "half a core for the two minutes between the points"
    assert "node_cpu_usage_seconds_total 60.000000000" in second
    assert kubelet.arm.metrics.calls == 2


def test_stats_need_nodes_stats_rights(kubelet: Any, tmp_path: Any) -> None:
    viewer = kubelet.client_cert("viewer", tmp_path=tmp_path)
    kubelet.kube_api.reviews.grant("viewer", "get", "nodes/proxy")
    denied = kubelet.get("/stats/summary", cert=viewer)
    assert denied.status_code == 403 and "subresource=stats" in denied.text
