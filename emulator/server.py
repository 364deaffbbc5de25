"""The ACI emulator: Azure Resource Manager for Microsoft.ContainerInstance, strict enough to trust.

Serves containerGroups (PUT/GET/DELETE/list), async operations, container logs,
location usages and capabilities at api-version 2023-05-01, over TLS (trustme), with
ARM's error bodies, throttling buckets, ACI quotas, injectable faults and a clock that
drives provisioning. Bodies follow the recordings in tests/fixtures/aci-*.

Run alone: `python -m emulator --port 0` prints the base URL as the first line and the
CA file as the second. In-process: `ArmServer().start()`; tests configure it through
tests/fakes/arm_fixtures.py (fast timing, a clock they step, faults, request counters).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import ssl
import sys
import tempfile
import threading
from collections import Counter

from aiohttp import web

from emulator.api import API_VERSION, ArmApp
from emulator.clock import Clock, ManualClock, RealClock
from emulator.exec import ExecBridge
from emulator.faults import Faults
from emulator.metrics import MetricsStore
from emulator.state import ArmState, GroupRecord, Timing, iso
from emulator.throttle import ThrottleConfig

__all__ = [
    "API_VERSION",
    "DEFAULT_LOCATION",
    "DEFAULT_RESOURCE_GROUP",
    "DEFAULT_SUBSCRIPTION",
    "ArmServer",
    "main",
    "wait_for_stop_signal",
]

DEFAULT_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
DEFAULT_RESOURCE_GROUP = "aci-connector-rg"
DEFAULT_LOCATION = "westus"


class ArmServer:
    """The fake ARM in a background thread with its own event loop. Tests read and steer its state directly."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = True,
        clock: Clock | None = None,
        *,
        subscription_id: str = DEFAULT_SUBSCRIPTION,
        resource_group: str = DEFAULT_RESOURCE_GROUP,
        location: str = DEFAULT_LOCATION,
        timing: Timing | None = None,
        ca_file: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.clock: Clock = clock or RealClock()
        self.state = ArmState(
            self.clock, subscription=subscription_id, resource_group=resource_group, location=location
        )
        if timing is not None:
            self.state.timing = timing
        self.counts: Counter[str] = Counter()
        self.exec = ExecBridge()
        """Exec sessions handed out and the commands they ran."""
        self.metrics = MetricsStore()
        """CPU/memory per container served by the batch metrics API (`set_metrics`)."""
        self.url = ""
        self.ca_pem_path: str | None = None
        self._ca_file = ca_file
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # ---- configuration shortcuts

    @property
    def subscription_id(self) -> str:
        return self.state.subscription

    @property
    def resource_group(self) -> str:
        return self.state.resource_group

    @property
    def location(self) -> str:
        return self.state.location

    @property
    def faults(self) -> Faults:
        return self.state.faults

    @property
    def throttle(self) -> ThrottleConfig:
        return self.state.throttle.config

    @property
    def timing(self) -> Timing:
        """Provisioning durations for groups created from now on (pending, creating, deleting seconds)."""
        return self.state.timing

    @property
    def groups(self) -> dict[tuple[str, str, str], GroupRecord]:
        """Live records keyed by (subscription, resource group lower-cased, name)."""
        return self.state.groups

    @property
    def page_size(self) -> int:
        return self.state.page_size

    @page_size.setter
    def page_size(self, value: int) -> None:
        self.state.page_size = value

    @property
    def delete_mode(self) -> str:
        return self.state.delete_mode

    @delete_mode.setter
    def delete_mode(self, value: str) -> None:
        if value not in ("200", "202", "204"):
            raise ValueError("delete_mode is one of '200', '202', '204'")
        self.state.delete_mode = value

    # ---- lifecycle

    def start(self) -> str:
        ssl_context = self._tls_context() if self.tls else None
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="fake-arm", daemon=True)
        self._thread.start()
        ready.wait()
        future = asyncio.run_coroutine_threadsafe(self._serve(ssl_context), self._loop)
        port = future.result(timeout=10)
        scheme = "https" if self.tls else "http"
        self.url = f"{scheme}://{self.host}:{port}"
        return self.url

    def _run(self, ready: threading.Event) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(ready.set)
        self._loop.run_forever()

    async def _serve(self, ssl_context: ssl.SSLContext | None) -> int:
        app = ArmApp(self.state, self.counts, lambda: self.url, self.exec, self.metrics).build()
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=ssl_context)
        await site.start()
        server = site._server
        assert server is not None
        return server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    def _tls_context(self) -> ssl.SSLContext:
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        if self._ca_file:
            path = self._ca_file
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        else:
            handle, path = tempfile.mkstemp(prefix="aci-emulator-ca-", suffix=".pem")
            os.close(handle)
        ca.cert_pem.write_to_path(path)
        self.ca_pem_path = path
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        return context

    def stop(self) -> None:
        if self._loop is None:
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._loop.close()
        self._loop = None
        if self.ca_pem_path and not self._ca_file:  # a temp file of ours; a chosen path is the user's
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.ca_pem_path)

    def __enter__(self) -> ArmServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- state helpers for tests

    def add_resource_group(self, name: str, subscription: str | None = None) -> None:
        self.state.add_resource_group(name, subscription)

    def group(self, name: str, resource_group: str | None = None) -> GroupRecord:
        return self.state.find(name, resource_group)

    def advance(self, seconds: float) -> None:
        """Move a `ManualClock` on (provisioning, deletes and token refill follow it)."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs ArmServer(clock=ManualClock())")
        self.clock.advance(seconds)

    def make_ready(self, name: str, resource_group: str | None = None) -> None:
        """Finish provisioning now, whatever the clock: for tests that start after a group runs."""
        record = self.group(name, resource_group)
        with self.state.lock:
            record.created = self.state.now() - record.timing.pending - record.timing.creating

    def reject_image(self, image: str) -> None:
        """PUTs naming this image answer 400 InaccessibleImage, as ACI does for an image it cannot reach."""
        self.state.rejected_images.add(image)

    def set_logs(self, name: str, container: str, text: str, resource_group: str | None = None) -> None:
        record = self.group(name, resource_group)
        with self.state.lock:
            sim = record.sim(container)
            sim.logs = text
            sim.log_stamps = []

    def write_log(self, name: str, container: str, text: str, resource_group: str | None = None) -> None:
        """The container prints `text` now (the fake clock's now): logs grow, as `kubectl logs -f` sees them."""
        record = self.group(name, resource_group)
        with self.state.lock:
            sim = record.sim(container)
            old_lines = len(sim.logs.splitlines())
            sim.log_stamps = sim.log_stamps + [record.ready_at] * (old_lines - len(sim.log_stamps))
            sim.logs += text if text.endswith("\n") else text + "\n"
            sim.log_stamps += [self.state.now()] * (len(sim.logs.splitlines()) - old_lines)

    def _running(self, record: GroupRecord) -> None:
        if record.phase(self.state.now()) != "Succeeded":
            raise ValueError(f"group {record.name} is not provisioned yet: advance the clock or call make_ready()")

    def terminate(
        self, name: str, container: str | None = None, exit_code: int = 0, *, reason: str | None = None
    ) -> None:
        """The container exits with `exit_code`; the group's restartPolicy decides whether ACI restarts it."""
        record = self.group(name)
        container = container or record.container_names()[0]
        if container not in record.container_names():
            raise KeyError(f"no container {container} in {name}")
        with self.state.lock:
            self._running(record)
            now = self.state.now()
            sim = record.sim(container)
            started = (sim.current or {}).get("startTime", iso(record.ready_at))
            terminated = {
                "state": "Terminated",
                "startTime": started,
                "exitCode": exit_code,
                "finishTime": iso(now),
                "detailStatus": reason or ("Completed" if exit_code == 0 else "Error"),
            }
            policy = record.restart_policy
            if policy == "Always" or (policy == "OnFailure" and exit_code != 0):
                sim.previous = terminated
                sim.restart_count += 1
                sim.current = {"state": "Running", "startTime": iso(now), "detailStatus": ""}
                stamp = iso(now, digits=0)
                sim.events.append(
                    {
                        "count": 1,
                        "firstTimestamp": stamp,
                        "lastTimestamp": stamp,
                        "name": "Started",
                        "message": "Started container",
                        "type": "Normal",
                    }
                )
            else:
                sim.current = terminated
        restarted = policy == "Always" or (policy == "OnFailure" and exit_code != 0)
        for observe in list(self.state.container_observers):  # outside the lock: observers may call back
            observe(name, container, "Killing" if restarted else "Terminated")

    def fail_image_pull(self, name: str, container: str | None = None, message: str | None = None) -> None:
        """The image cannot be pulled: the container waits, events say why, provisioning ends Failed."""
        record = self.group(name)
        container = container or record.container_names()[0]
        with self.state.lock:
            sim = record.sim(container)
            sim.image_pull_failed = True
            stamp = iso(self.state.now(), digits=0)
            image = next(
                c["properties"]["image"]
                for c in record.spec["properties"]["containers"] + record.spec["properties"]["initContainers"]
                if c["name"] == container
            )
            sim.events.append(
                {
                    "count": 1,
                    "firstTimestamp": stamp,
                    "lastTimestamp": stamp,
                    "name": "Failed",
                    "message": message
                    or f'Failed to pull image "{image}": rpc error: code = Unknown desc = '
                    "failed to resolve reference: not found",
                    "type": "Warning",
                }
            )
            record.provisioning_error = {
                "code": "ContainerGroupDeploymentFailed",
                "message": f"Failed to pull image '{image}'.",
            }

    def fail_provisioning(
        self,
        name: str,
        *,
        code: str = "ContainerGroupDeploymentFailed",
        message: str = "The container group deployment failed.",
        containers_run: bool = False,
    ) -> None:
        """provisioningState ends Failed; with containers_run the containers still run (Failed is not stopped)."""
        record = self.group(name)
        with self.state.lock:
            record.provisioning_error = {"code": code, "message": message}
            record.containers_run_on_failure = containers_run

    def delete_out_of_band(self, name: str, resource_group: str | None = None) -> None:
        """Someone deleted the group outside the connector (portal, CLI, policy)."""
        record = self.group(name, resource_group)
        with self.state.lock:
            del self.state.groups[(record.subscription, record.resource_group.lower(), record.name)]

    def set_state(
        self,
        name: str,
        *,
        container: str | None = None,
        exit_code: int | None = None,
        image_pull_failed: bool = False,
        provisioning_failed: bool = False,
        deleted: bool = False,
    ) -> None:
        """One entry point for the helpers above, for tests that drive state from a table."""
        if deleted:
            self.delete_out_of_band(name)
        elif image_pull_failed:
            self.fail_image_pull(name, container)
        elif provisioning_failed:
            self.fail_provisioning(name)
        elif exit_code is not None:
            self.terminate(name, container, exit_code)
        else:
            raise ValueError("set_state needs exit_code, image_pull_failed, provisioning_failed or deleted")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="ACI emulator: Azure Resource Manager for Azure Container Instances, offline"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--no-tls", action="store_true", help="serve plain http (the Azure SDK refuses bearer tokens)")
    parser.add_argument("--subscription", default=DEFAULT_SUBSCRIPTION)
    parser.add_argument("--resource-group", default=DEFAULT_RESOURCE_GROUP)
    parser.add_argument("--location", default=DEFAULT_LOCATION)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--quota", type=int, default=None, help="regional container group and core quota")
    parser.add_argument("--groups-quota", type=int, default=None, help="regional container group quota only")
    parser.add_argument("--cores-quota", type=int, default=None, help="regional standard cores quota only")
    parser.add_argument(
        "--throttle-scale", type=float, default=None, help="scale ARM's token buckets (0.1: a tenth of the burst)"
    )
    parser.add_argument("--unthrottled", action="store_true", help="no token buckets or create-rate windows")
    parser.add_argument("--pending", type=float, default=Timing.pending, help="seconds a new group stays Pending")
    parser.add_argument("--creating", type=float, default=Timing.creating, help="seconds it then stays Creating")
    parser.add_argument("--deleting", type=float, default=Timing.deleting, help="seconds a delete takes")
    parser.add_argument("--ca-file", default=None, help="where to write the CA certificate (default: a temp file)")
    args = parser.parse_args(argv)
    server = ArmServer(
        args.host,
        args.port,
        tls=not args.no_tls,
        subscription_id=args.subscription,
        resource_group=args.resource_group,
        location=args.location,
        timing=Timing(pending=args.pending, creating=args.creating, deleting=args.deleting),
        ca_file=args.ca_file,
    )
    server.faults.latency = args.latency
    if args.quota is not None:
        server.throttle.container_groups_quota = server.throttle.standard_cores_quota = args.quota
    if args.groups_quota is not None:
        server.throttle.container_groups_quota = args.groups_quota
    if args.cores_quota is not None:
        server.throttle.standard_cores_quota = args.cores_quota
    if args.throttle_scale is not None:
        server.throttle.scale = args.throttle_scale
    if args.unthrottled:
        server.throttle.enabled = False
    print(server.start(), flush=True)
    print(f"ca={server.ca_pem_path or ''}", flush=True)
    throttle = server.throttle
    print(
        f"ACI emulator: subscription {server.subscription_id}, resource group {server.resource_group}, location "
        f"{server.location}; Pending {server.timing.pending:g} s, Creating {server.timing.creating:g} s; quota "
        f"{throttle.container_groups_quota} groups / {throttle.standard_cores_quota} cores; throttling "
        f"{'on' if throttle.enabled else 'off'}. No real containers run. Ctrl-C stops it.",
        file=sys.stderr,
        flush=True,
    )
    wait_for_stop_signal()
    server.stop()


def wait_for_stop_signal() -> int:
    """Block until SIGINT or SIGTERM arrives; return its number. Safe when several arrive at once.

    They do: a launcher killed with its threads sends one PR_SET_PDEATHSIG signal per thread that exits (the
    child is reparented once per thread), and Ctrl-C may be pressed twice. A Python handler that takes a lock
    (`threading.Event.set`) can run again inside itself when the next signal lands, and then waits forever on
    the lock it holds: the process outlives its launcher. So no handler does any work here: the interpreter's
    C-level handler writes each signal's number to a pipe (whatever thread it hits), and this reads one.
    """
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)  # set_wakeup_fd needs it: a full pipe drops a byte, never blocks a handler
    signal.set_wakeup_fd(write_end)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    return os.read(read_end, 1)[0]


if __name__ == "__main__":
    main()
