"""A pod's whole life on ACI reaches an Event Grid topic as CloudEvents, published by the worker and reconciler."""

from __future__ import annotations

import time

from shared.azure.eventgrid import EventPublisher, set_publisher
from shared.naming import container_group_name
from tests.fakes.connector_fixtures import make_pod
from tests.integration.test_events_out import KEY, Topic
from tests.integration.test_reconcile import ctx, drain, reconciler  # noqa: F401 - ctx is a fixture


def test_scheduled_running_succeeded_deleted_reach_the_topic(kube_api, arm, ctx):  # noqa: F811
    topic = Topic().start()
    publisher = EventPublisher(topic.url, key=KEY, source="aci-connector", connection_verify=topic.ca_path)
    set_publisher(publisher)
    try:
        pod = kube_api.create(make_pod(restartPolicy="Never"))
        rec = reconciler(ctx)
        assert rec.run_cycle().enqueued == 1
        assert drain(ctx) == ["created"]
        name = container_group_name(pod)
        arm.make_ready(name)
        rec.run_cycle()
        arm.terminate(name, exit_code=0)
        rec.run_cycle()
        kube_api.delete("pods", "default", "web")  # a finished pod is removed at once, as the apiserver does
        deadline = time.monotonic() + 30
        while ctx.aci.get(name) is not None and time.monotonic() < deadline:
            rec.run_cycle()  # the group is now an orphan: deleted, and the pod's deletion announced
            time.sleep(0.1)
        assert kube_api.get("pods", "default", "web") is None
        assert ctx.aci.get(name) is None
        assert publisher.flush(10)
        events = topic.events()
        assert [e["type"].rsplit(".", 1)[1] for e in events] == ["Scheduled", "Running", "Succeeded", "Deleted"]
        assert {e["data"]["uid"] for e in events} == {pod["metadata"]["uid"]}
        assert {e["data"]["containerGroup"] for e in events} == {name}
    finally:
        set_publisher(None)
        topic.stop()
