"""The reconciler's pod view (shared/reconcile/podview.py): listed once, then followed by a short watch per cycle.

The tests run against the fake API and the real kube-apiserver: what the view relies on (a watch from a
list's resourceVersion replays every later change, and ends at its timeout) is the real server's contract.
The 410 is forced on the fake, and met for real on a kube-apiserver that serves pod watches from etcd and
compacts it every second (a version older than the compaction is then too old).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from shared.config import POD_EVENTS_QUEUE, load_settings
from shared.kube import Expired, KubeClient, build_api_client
from shared.reconcile import ReconcileConfig, Reconciler
from shared.reconcile.podview import PodView
from shared.worker import Context
from tests.fakes.connector_fixtures import NODE, make_pod, settings_for
from tests.fakes.kube_real import RealKube, RealKubeUnavailable

OTHER_NODE = "some-real-node"


def names(pods: list[dict[str, Any]]) -> set[str]:
    return {pod["metadata"]["name"] for pod in pods}


def refreshed(view: PodView, until: Any, cycles: int = 10) -> list[dict[str, Any]]:
    """Refresh (one cycle's watch, about a second) until the view shows what the test made, at most `cycles`
    times: a loaded server may deliver a change in the next cycle's watch, never lose it."""
    pods = view.refresh(NODE)
    for _ in range(cycles - 1):
        if until(pods):
            break
        pods = view.refresh(NODE)
    return pods


def by_name(pods: list[dict[str, Any]], name: str) -> dict[str, Any]:
    [pod] = [p for p in pods if p["metadata"]["name"] == name]
    return pod


def test_listed_once_then_adds_changes_and_deletes_between_cycles_are_seen(kube_api, kube):
    kube_api.create(make_pod("a"))
    kube_api.create(make_pod("b"))
    kube_api.create(make_pod("elsewhere", node=OTHER_NODE))
    view = PodView(kube, watch_from=0)

    assert names(view.refresh(NODE)) == {"a", "b"}
    assert view.nodes[NODE].listed == 1

    kube_api.create(make_pod("c"))
    kube_api.patch("pods", "default", "a", {"metadata": {"labels": {"tier": "web"}}})
    kube_api.patch("pods", "default", "b", {"status": {"phase": "Running"}}, subresource="status")
    kube_api.create(make_pod("d", node=OTHER_NODE))
    pods = refreshed(
        view, lambda pods: names(pods) == {"a", "b", "c"} and by_name(pods, "b")["status"]["phase"] == "Running"
    )
    assert names(pods) == {"a", "b", "c"}
    assert by_name(pods, "a")["metadata"]["labels"]["tier"] == "web"
    assert by_name(pods, "b")["status"]["phase"] == "Running"

    kube_api.delete("pods", "default", "c", grace_period_seconds=0)
    kube_api.delete("pods", "default", "a")  # graceful: still there, now with a deletionTimestamp
    pods = refreshed(
        view, lambda pods: names(pods) == {"a", "b"} and by_name(pods, "a")["metadata"].get("deletionTimestamp")
    )
    assert names(pods) == {"a", "b"}
    assert by_name(pods, "a")["metadata"]["deletionTimestamp"]
    assert view.nodes[NODE].listed == 1  # no relist: every change came from the watches
    assert view.nodes[NODE].watched >= 6


def test_a_quiet_cycle_keeps_the_view_without_relisting(kube_api, kube):
    kube_api.create(make_pod("a"))
    view = PodView(kube, watch_from=0)
    view.refresh(NODE)
    assert names(view.refresh(NODE)) == {"a"}  # nothing changed: the watch ends at its timeout (or a bookmark)
    kube_api.create(make_pod("x", node=OTHER_NODE))  # the cluster moves on, our node does not
    assert names(view.refresh(NODE)) == {"a"}
    assert view.nodes[NODE].listed == 1 and view.nodes[NODE].watched == 0


@pytest.mark.fake_kube_only("forces a 410: a real watch cache expires a version only after its window overflows")
def test_410_expired_relists_and_loses_nothing(kube_api, kube):
    kube_api.create(make_pod("a"))
    view = PodView(kube, watch_from=0)
    view.refresh(NODE)
    kube_api.create(make_pod("late"))
    kube_api.delete("pods", "default", "a", grace_period_seconds=0)
    kube_api.faults.expire_next("WATCH")  # as after etcd compaction: an ERROR 410 event in the stream

    assert names(view.refresh(NODE)) == {"late"}
    assert view.nodes[NODE].relists_after_expiry == 1 and view.nodes[NODE].listed == 2

    kube_api.create(make_pod("after"))
    assert names(refreshed(view, lambda pods: "after" in names(pods))) == {
        "late",
        "after",
    }  # back to watching from the relist's version
    assert view.nodes[NODE].listed == 2


@pytest.fixture(scope="module")
def compacting_kube() -> Iterator[RealKube]:
    """A real kube-apiserver whose pod watches read etcd directly, compacted every second: a real 410 on demand."""
    real = RealKube(extra_args=["--watch-cache-sizes=pods#0", "--etcd-compaction-interval=1s"], audit_log=False)
    try:
        real.start()
    except RealKubeUnavailable as error:
        real.stop(force=True)
        pytest.skip(f"real kube-apiserver unavailable: {error}")
    try:
        yield real
    finally:
        real.stop(force=True)


def watch_expired(kube: KubeClient, version: str) -> bool:
    try:
        for _ in kube.watch("/api/v1/pods", query={"resourceVersion": version}, timeout_seconds=1):
            pass
    except Expired:
        return True
    return False


@pytest.mark.real_kube
def test_a_real_410_after_etcd_compaction_relists_and_loses_nothing(compacting_kube):
    real = compacting_kube
    settings = load_settings(
        {"KUBE_API_URL": real.url, "KUBE_BEARER_TOKEN": real.admin_token, "KUBE_CA_CERT": real.ca_pem}
    )
    kube = KubeClient(build_api_client(settings))
    real.create(make_pod("a"))
    view = PodView(kube, watch_from=0)
    view.refresh(NODE)
    listed_at = view.nodes[NODE].version or ""
    real.create(make_pod("late"))
    real.delete("pods", "default", "a", grace_period_seconds=0)
    deadline = time.monotonic() + 90
    while not watch_expired(kube, listed_at):  # the apiserver compacts etcd a second or two later
        assert time.monotonic() < deadline, "etcd was not compacted past the list's version"
        real.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "tick-"}})

    assert names(view.refresh(NODE)) == {"late"}
    assert view.nodes[NODE].relists_after_expiry == 1 and view.nodes[NODE].listed == 2
    kube.api_client.close()


def test_small_nodes_are_relisted_each_cycle(kube_api, kube):
    kube_api.create(make_pod("a"))
    view = PodView(kube, watch_from=2)
    view.refresh(NODE)
    kube_api.create(make_pod("b"))
    assert names(view.refresh(NODE)) == {"a", "b"}
    assert view.nodes[NODE].listed == 2  # one pod was under watch_from: listed again, no watch
    kube_api.create(make_pod("c"))
    assert names(refreshed(view, lambda pods: "c" in names(pods))) == {"a", "b", "c"}
    assert view.nodes[NODE].listed == 2  # two pods at the last list: now watched


def cycles_until(rec: Reconciler, until: Any, cycles: int = 10) -> Any:
    report = rec.run_cycle()
    for _ in range(cycles - 1):
        if until(report):
            break
        report = rec.run_cycle()
    return report


def test_reconciler_keeps_its_pod_view_between_cycles_and_a_cold_start_lists(
    kube_api, kube, arm, aci_adapter, queue_store
):
    settings = settings_for(kube_api.url, arm, ARM_READS_PER_MINUTE="6000")
    ctx = Context(settings=settings, aci=aci_adapter, queue=queue_store, kube=kube)
    config = ReconcileConfig(watch_pods_from=0, lease_only_if_older_than=0)
    rec = Reconciler(ctx, config=config)
    assert rec.run_cycle().pods == 0
    assert rec.pod_view is not None and rec.pod_view.nodes[NODE].listed == 1

    kube_api.create(make_pod("web"))
    report = cycles_until(rec, lambda report: report.pods == 1)
    assert (report.pods, report.enqueued) == (1, 1)  # seen by the watch: a create message for the worker
    assert rec.pod_view.nodes[NODE].listed == 1

    kube_api.delete("pods", "default", "web", grace_period_seconds=0)
    assert cycles_until(rec, lambda report: report.pods == 0).pods == 0
    kube_api.create(make_pod("web2"))

    cold = Reconciler(ctx, config=config)  # a new instance: nothing known, so it lists
    report = cold.run_cycle()
    assert report.pods == 1 and cold.pod_view is not None and cold.pod_view.nodes[NODE].listed == 1
    queued = ctx.queue.client(POD_EVENTS_QUEUE).peek_messages(max_messages=32)
    assert len(queued) == 2  # web, then web2 (the cold instance's first cycle)
