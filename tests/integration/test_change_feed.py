"""The change feed against a fake Log Analytics workspace, through the real azure-monitor-query client.

Invariants the reconciler relies on: an event shows up once ingested, however late it was generated (the
watermark is on ingestion time); the watermark survives a restart (it lives in a store, here a dict standing
for the Node annotation) and moves only when committed; nothing committed is ever asked again, nothing
uncommitted is ever lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from emulator.clock import ManualClock
from shared.azure.changefeed import ContainerEventFeed, logs_client
from tests.fakes.arm_fixtures import StaticTokenCredential
from tests.fakes.loganalytics import LogAnalyticsServer

WORKSPACE = "11111111-2222-3333-4444-555555555555"


class DictStore:
    def __init__(self) -> None:
        self.saved: list[datetime] = []

    def load(self) -> datetime | None:
        return self.saved[-1] if self.saved else None

    def save(self, watermark: datetime) -> None:
        self.saved.append(watermark)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_800_000_000.0)


@pytest.fixture
def workspace(clock: ManualClock) -> Iterator[LogAnalyticsServer]:
    server = LogAnalyticsServer(WORKSPACE, clock=clock, ingestion_delay=60.0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def feed(workspace: LogAnalyticsServer, clock: ManualClock, store: DictStore) -> ContainerEventFeed:
    client = logs_client(workspace.url, credential=StaticTokenCredential(), connection_verify=workspace.ca_pem_path)
    return ContainerEventFeed(WORKSPACE, client, store, now=lambda: datetime.fromtimestamp(clock.now(), UTC))


def test_an_event_appears_once_ingested_and_a_committed_watermark_is_not_asked_again(workspace, clock):
    store = DictStore()
    changes = feed(workspace, clock, store)
    workspace.add_event("g1", "Killing")
    clock.advance(30)
    assert changes.changed().groups == frozenset()  # generated, not ingested yet
    clock.advance(31)
    answer = changes.changed()
    assert answer.groups == {"g1"} and store.saved == []  # nothing saved before the caller commits
    changes.commit(answer)
    clock.advance(600)  # past the overlap: g1 is behind the watermark for good
    assert changes.changed().groups == frozenset()
    assert "ingestion_time() > datetime(" in workspace.queries[-1]


def test_a_late_record_generated_before_the_watermark_is_still_found(workspace, clock):
    """TimeGenerated order is not arrival order: a watermark on generation time would skip this one."""
    changes = feed(workspace, clock, DictStore())
    workspace.add_event("slow", "Started", delay=400)  # generated first, ingested last
    clock.advance(50)
    workspace.add_event("fast", "Killing", delay=10)
    clock.advance(20)
    first = changes.changed()
    assert first.groups == {"fast"}
    changes.commit(first)
    clock.advance(400)
    assert changes.changed().groups == {"slow"}


def test_the_watermark_survives_a_restart_and_an_uncommitted_answer_is_asked_again(workspace, clock):
    store = DictStore()
    before = feed(workspace, clock, store)
    workspace.add_event("g1", "Killing")
    clock.advance(61)
    answer = before.changed()
    before.commit(answer)
    workspace.add_event("g2", "BackOff")
    clock.advance(61)
    assert before.changed().groups >= {"g2"}  # answered, but the instance dies before committing
    after = feed(workspace, clock, store)  # the singleton moved: a new process, the same Node annotation
    clock.advance(300)
    assert "g2" in after.changed().groups  # (g1 may come again: it is within the overlap, read once more)
    assert after.watermark == store.saved[-1]


def test_a_query_the_workspace_cannot_run_is_an_error_not_an_empty_answer(workspace, clock):
    from azure.core.exceptions import HttpResponseError

    client = logs_client(workspace.url, credential=StaticTokenCredential(), connection_verify=workspace.ca_pem_path)
    with pytest.raises(HttpResponseError):
        client.query_workspace(WORKSPACE, "ContainerEvent | take 1", timespan=None)


def test_the_emulators_container_exits_feed_the_workspace(workspace, clock):
    """The fake is fed as ACI's diagnostics would be: an exit in the ACI emulator becomes a ContainerEvent row."""
    from shared.translate import translate_pod
    from tests.fakes.arm_fixtures import fake_arm
    from tests.fakes.connector_fixtures import make_pod, settings_for

    arm = fake_arm(clock=clock)
    body = translate_pod(make_pod(), settings=settings_for(None, arm)).body
    arm.state.upsert(arm.subscription_id, arm.resource_group, "web-group", body)
    arm.make_ready("web-group")
    arm.state.container_observers.append(lambda group, container, reason: workspace.add_event(group, reason))
    changes = feed(workspace, clock, DictStore())
    arm.terminate("web-group", exit_code=1)
    clock.advance(61)
    assert changes.changed().groups == {"web-group"}


def test_the_reconciler_reads_what_the_feed_names_first_and_its_watermark_survives_a_restart(
    kube_api, kube, arm, aci_adapter
):
    from shared.reconcile import Reconciler
    from shared.reconcile.feed import WATERMARK_ANNOTATION, FeedDriver, NodeWatermark
    from shared.worker import Context
    from tests.fakes.connector_fixtures import NODE, settings_for
    from tests.integration.test_reconcile_reads import seed

    workspace = LogAnalyticsServer(WORKSPACE, ingestion_delay=0.0)
    workspace.start()
    try:
        client = logs_client(workspace.url, credential=StaticTokenCredential(), connection_verify=workspace.ca_pem_path)

        def driver() -> FeedDriver:
            return FeedDriver(ContainerEventFeed(WORKSPACE, client, NodeWatermark(kube, NODE)))

        ctx = Context(settings=settings_for(kube_api.url, arm), aci=aci_adapter, queue=None, kube=kube)
        groups = sorted(seed(kube_api, arm, ctx.settings, 8))
        for name in groups:
            arm.make_ready(name)
        arm.state.container_observers.append(lambda group, container, reason: workspace.add_event(group, reason))
        rec = Reconciler(ctx, feed=driver())
        rec.budget.per_minute = 6000
        rec.run_cycle()  # every group read once: all steady now
        rec.budget = type(rec.budget)(18, rec.interval)  # 3 reads a cycle: one list page and two GETs

        flagged = groups[-1]  # last in name order: the sweep alone would reach it last
        arm.terminate(flagged, exit_code=1)
        report = rec.run_cycle()
        assert report.arm_reads == 2 and report.errors == []
        pod = kube_api.get("pods", "default", tags_pod(arm, flagged))
        assert pod["status"]["containerStatuses"][0]["restartCount"] == 1
        saved = kube_api.get("nodes", None, NODE)["metadata"]["annotations"][WATERMARK_ANNOTATION]

        again = groups[0]
        arm.terminate(again, exit_code=1)
        restarted = Reconciler(ctx, feed=driver())  # the timer moved to another instance
        restarted.budget = type(restarted.budget)(18, restarted.interval)
        restarted.run_cycle()
        restarted.run_cycle()
        pod = kube_api.get("pods", "default", tags_pod(arm, again))
        assert pod["status"]["containerStatuses"][0]["restartCount"] == 1
        assert restarted.feed is not None and restarted.feed.feed.watermark is not None
        assert restarted.feed.feed.watermark >= datetime.fromisoformat(saved)
    finally:
        workspace.stop()


def tags_pod(arm, group: str) -> str:
    return arm.group(group).spec["tags"]["k8s-pod-name"]
