"""Storage outages and shutdown: the relay holds, retries, reports not-ready, and flushes on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from shared.azure.queue import QueueStore
from shared.kube import KubeClient
from shared.relay import Relay, RelayConfig
from shared.relay.putter import QueuePutter
from tests.fakes.azurite_fixtures import Azurite
from tests.fakes.kube_fixtures import kube_settings
from tests.fakes.waiting import wait_for
from tests.integration.test_relay import NODE, drain, http_get, pod_manifest, summary

ROOT = Path(__file__).resolve().parents[2]
OUTAGE_SECONDS = 10.0


@pytest.mark.timeout(120)
def test_storage_down_for_ten_seconds_during_a_burst_loses_nothing(kube_api, kube_client):
    storage = Azurite().start()
    relay = Relay(
        RelayConfig(nodes=(NODE,), health_port=0, send_max_backoff=1.0, flush_seconds=5.0),
        KubeClient(kube_client),
        QueuePutter(QueueStore(storage.connection_string)),
    )
    try:
        relay.start()
        wait_for(relay.ready)
        assert relay.health is not None
        storage.stop()
        down_at = time.monotonic()
        for index in range(40):
            kube_api.create(pod_manifest(f"b{index}"))
        for index in range(0, 40, 4):  # more changes for some pods while held: merged in the buffer
            kube_api.patch("pods", "default", f"b{index}", {"spec": {"activeDeadlineSeconds": 60}})
        wait_for(lambda: not relay.sender.storage_ok)
        status, body = http_get(relay.health.port, "/readyz")
        assert status == 503 and "Storage unavailable" in json.loads(body)["problems"][0]
        wait_for(lambda: relay.sender.size == 40)  # every pod held once (watch events may still be arriving)
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
        storage.start()  # same port; in-memory, so the queue itself is gone and must be re-created

        wait_for(lambda: relay.metrics.get("messages_sent") >= 40, timeout=30)
        messages = drain(QueueStore(storage.connection_string), 40)
        counts = Counter(summary(messages))
        assert set(counts) == {("upsert", f"b{i}") for i in range(40)}
        assert all(count == 1 for count in counts.values()), counts
        patched = next(m for m in messages if m.pod and m.pod.name == "b0")
        assert patched.resource_version == kube_api.get("pods", "default", "b0")["metadata"]["resourceVersion"]
        wait_for(relay.ready)
        assert relay.metrics.get("send_retries") >= 2
        assert relay.metrics.get("dropped") == 0
    finally:
        relay.stop()
        storage.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.timeout(120)
def test_sigterm_flushes_held_messages(kube_api, azurite, queue_store):
    port = free_port()
    env = {
        **os.environ,
        **kube_settings(kube_api.url),
        "AzureWebJobsStorage": azurite.connection_string,
        "RELAY_HEALTH_PORT": str(port),
        "RELAY_COALESCE_MS": "600000",  # the window never ends in this test: only the flush sends
        "LOG_LEVEL": "INFO",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "shared.relay"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_for(lambda: http_get(port, "/readyz")[0] == 200 if _listening(port) else False, timeout=20)
        kube_api.create(pod_manifest("held"))
        assert summary(drain(queue_store, 1, settle=0.0)) == [("upsert", "held")]
        kube_api.patch("pods", "default", "held", {"spec": {"activeDeadlineSeconds": 30}})
        latest = kube_api.get("pods", "default", "held")["metadata"]["resourceVersion"]
        wait_for(lambda: "aci_relay_events_seen_total 2.0\n" in http_get(port, "/metrics")[1], timeout=30)
        # the trailing message is now held for the 10 min window: only the shutdown flush can send it
        assert drain(queue_store, 0, timeout=0.5, settle=0.3) == []
        process.send_signal(signal.SIGTERM)
        # the flush on SIGTERM, not the end of the window: the 60 s bound only stops a hang
        output, _ = process.communicate(timeout=60)
        assert process.returncode == 0, output.decode()
        flushed = drain(queue_store, 1, settle=0.0)
        assert summary(flushed) == [("upsert", "held")]
        assert flushed[0].resource_version == latest
        assert b"flushing" in output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
