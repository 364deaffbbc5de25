"""The audit webhook path for real: kube-apiserver's webhook backend -> functions/audit.py over HTTPS -> Azurite.

A real kube-apiserver (tests/fakes/kube_real.py) runs with docs/audit.md's policy and flags, its webhook
kubeconfig pointing at the audit function served by a thin aiohttp wrapper over TLS, with the bearer token
of docs/audit.md. Pods created, bound and deleted with kubectl become `pod-events` messages in Azurite: the
intake is proven against what a real apiserver actually sends, not against hand-written events.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from functions.audit import audit
from shared.azure.queue import QueueStore
from shared.config import POD_EVENTS_QUEUE, reset_settings_cache
from shared.messages import Message, parse_message
from tests.fakes.connector_fixtures import NODE, make_pod
from tests.fakes.kube_real import RealKube, RealKubeUnavailable

pytestmark = [pytest.mark.real_kube, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
HANDLER = audit._function.get_user_function()
TOKEN = secrets.token_hex(32)


def documented_policy() -> str:
    """The audit policy block of docs/audit.md, exactly as operators copy it."""
    text = (ROOT / "docs" / "audit.md").read_text()
    section = text[text.index("## Audit policy") :]
    return re.search(r"```yaml\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def documented_flags() -> list[str]:
    """The --audit-webhook-* flags of docs/audit.md (the policy and kubeconfig paths are this test's)."""
    text = (ROOT / "docs" / "audit.md").read_text()
    return re.findall(r"^(--audit-webhook-(?:mode|batch-max-size|batch-max-wait)=\S+)", text, re.M)


class Collected(func.Out):
    def __init__(self) -> None:
        self.value: list[str] | None = None

    def set(self, val: list[str]) -> None:
        self.value = val

    def get(self) -> list[str] | None:
        return self.value


class AuditEndpoint:
    """POST /api/audit over HTTPS: the function as the host invokes it, its output binding written to the queue."""

    def __init__(self, certificate_authority: Any, queue: Callable[[], QueueStore | None]) -> None:
        self.ca = certificate_authority
        self.queue = queue
        self.answers: list[dict[str, Any]] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="audit-endpoint", daemon=True)
        self._runner: Any = None

    def start(self) -> AuditEndpoint:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(15)
        return self

    async def _serve(self) -> None:
        import ssl

        from aiohttp import web

        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/api/audit", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(tls)
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _handle(self, request: Any) -> Any:
        from aiohttp import web

        body = await request.read()
        http_request = func.HttpRequest(
            method=request.method, url=str(request.url), headers=dict(request.headers), body=body
        )
        out = Collected()
        response = await asyncio.get_running_loop().run_in_executor(None, HANDLER, http_request, out)
        answer = json.loads(response.get_body())
        self.answers.append({"status": response.status_code, **answer})
        store = self.queue()
        if response.status_code == 200 and out.value and store is not None:
            await asyncio.get_running_loop().run_in_executor(None, store.send_many, out.value)
        return web.Response(body=response.get_body(), status=response.status_code, content_type="application/json")

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(15)


class Ground:
    """The apiserver with the audit webhook, the endpoint, and the queue the endpoint writes to."""

    def __init__(self, server: RealKube, endpoint: AuditEndpoint, workdir: Path) -> None:
        self.server = server
        self.endpoint = endpoint
        self.workdir = workdir
        self.store: QueueStore | None = None
        """Where the endpoint writes the function's output binding: the test's queue_store."""

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        env = {**os.environ, "KUBECONFIG": str(self.workdir / "admin.kubeconfig"), "HOME": str(self.workdir)}
        done = subprocess.run(
            ["kubectl", *args], input=stdin, capture_output=True, text=True, env=env, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture(scope="module")
def ground(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ground]:
    import trustme

    workdir = tmp_path_factory.mktemp("audit-real")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(workdir / "endpoint-ca.crt"))
    grounds: list[Ground] = []
    endpoint = AuditEndpoint(ca, lambda: grounds[0].store if grounds else None).start()
    (workdir / "policy.yaml").write_text(documented_policy())
    webhook = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "aci-connector",
                "cluster": {
                    "server": f"https://127.0.0.1:{endpoint.port}/api/audit",
                    "certificate-authority": str(workdir / "endpoint-ca.crt"),
                },
            }
        ],
        "users": [{"name": "aci-connector", "user": {"token": TOKEN}}],
        "contexts": [{"name": "default", "context": {"cluster": "aci-connector", "user": "aci-connector"}}],
        "current-context": "default",
    }
    (workdir / "webhook.kubeconfig").write_text(json.dumps(webhook))
    server = RealKube(
        audit_log=False,
        extra_args=[
            f"--audit-policy-file={workdir / 'policy.yaml'}",
            f"--audit-webhook-config-file={workdir / 'webhook.kubeconfig'}",
            *documented_flags(),
        ],
    )
    try:
        server.start()
    except RealKubeUnavailable as exc:
        endpoint.stop()
        server.stop()
        pytest.skip(f"real kube-apiserver unavailable: {exc}")
    server.kubeconfig(workdir / "admin.kubeconfig")
    ground = Ground(server, endpoint, workdir)
    grounds.append(ground)
    try:
        yield ground
    finally:
        server.stop()
        endpoint.stop()


@pytest.fixture
def audited(ground: Ground, queue_store: QueueStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ground]:
    monkeypatch.setenv("AUDIT_BEARER_TOKEN", TOKEN)
    reset_settings_cache()
    ground.server.reset()
    ground.endpoint.answers.clear()
    ground.store = queue_store
    yield ground
    ground.store = None
    reset_settings_cache()


def receive(store: QueueStore, wanted: Callable[[list[Message]], bool], timeout: float = 30.0) -> list[Message]:
    """Messages off pod-events until `wanted` holds for all received so far (a deadline, not a sleep)."""
    client = store.client(POD_EVENTS_QUEUE)
    got: list[Message] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for item in client.receive_messages(messages_per_page=32, max_messages=32, visibility_timeout=60):
            got.append(parse_message(item.content))
            client.delete_message(item)
        if wanted(got):
            return got
        time.sleep(0.1)
    raise AssertionError(f"not received within {timeout} s: {[(m.op, m.pod and m.pod.name) for m in got]}")


def ops(messages: list[Message]) -> list[tuple[str, str]]:
    return [(m.op, m.pod.name if m.pod else "") for m in messages]


def test_the_documented_policy_and_flags_are_what_the_server_runs_with():
    policy = documented_policy()
    assert "pods/binding" in policy and "level: None" in policy
    assert sorted(flag.split("=")[0] for flag in documented_flags()) == [
        "--audit-webhook-batch-max-size",
        "--audit-webhook-batch-max-wait",
        "--audit-webhook-mode",
    ]


def test_kubectl_create_bind_and_delete_become_queue_messages(audited: Ground, queue_store: QueueStore):
    scheduled = make_pod("direct")  # names the virtual node already: the create is enough
    audited.kubectl("create", "-f", "-", stdin=json.dumps(scheduled))
    got = receive(queue_store, lambda m: ("upsert", "direct") in ops(m))
    created = next(m for m in got if ops([m]) == [("upsert", "direct")])
    assert created.source == "audit" and created.node == NODE
    # Level Request records the request body only: a create's uid is not known yet, the worker reads the pod.
    assert created.pod is not None and created.pod.uid is None

    unbound = make_pod("later", node=None)  # a Deployment's pod: the scheduler's binding announces it
    audited.kubectl("create", "-f", "-", stdin=json.dumps(unbound))
    audited.server.bind("default", "later", NODE)
    receive(queue_store, lambda m: ("upsert", "later") in ops(m))

    audited.kubectl("delete", "pod", "direct", "--wait=false")
    receive(queue_store, lambda m: ("delete", "direct") in ops(m))
    answers = audited.endpoint.answers
    assert answers and all(answer["status"] == 200 for answer in answers)
    assert sum(answer["enqueued"] for answer in answers) >= 3
