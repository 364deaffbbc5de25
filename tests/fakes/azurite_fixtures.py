"""Real Azurite (the npm Storage emulator) for tests: started here, on a free 127.0.0.1 port, stopped here.

Never relies on an Azurite left running: each session starts its own with
in-memory persistence, and a test that needs Storage down can stop and restart
one of its own on the same port.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.azure.queue import QueueStore, set_queue_store
from shared.config import DEAD_LETTER_QUEUE, POD_EVENTS_QUEUE, POISON_QUEUE
from tests.fakes.processes import track, untrack

ROOT = Path(__file__).resolve().parents[2]
_LISTENING = re.compile(r"successfully listens on (http://127\.0\.0\.1:(\d+))")


AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
"""Azurite's published development account; `UseDevelopmentStorage=true` means it on the default ports."""


def azurite_connection_string(queue_endpoint: str) -> str:
    """The development account on an Azurite at another port (tests start it on a free one)."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"QueueEndpoint={queue_endpoint};"
    )


def azurite_binary() -> str:
    local = ROOT / "node_modules" / ".bin" / "azurite-queue"
    if local.exists():
        return str(local)
    found = shutil.which("azurite-queue")
    if found:
        return found
    raise RuntimeError("azurite-queue not found: run `npm ci` in the project root (make test does it)")


class Azurite:
    """One azurite-queue process; `port=0` picks a free port, a restart keeps the same one."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self._process: subprocess.Popen[str] | None = None
        self._output: list[str] = []

    @property
    def queue_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/devstoreaccount1"

    @property
    def connection_string(self) -> str:
        return azurite_connection_string(self.queue_endpoint)

    @property
    def pid(self) -> int:
        """The running Node process (benchmarks read its CPU time from /proc)."""
        if self._process is None:
            raise RuntimeError("Azurite is not running")
        return self._process.pid

    def start(self, timeout: float = 30) -> Azurite:
        command = [
            azurite_binary(),
            "--queueHost",
            "127.0.0.1",
            "--queuePort",
            str(self.port),
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--loose",
            "--silent",
        ]
        self._process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
            start_new_session=True,
        )
        track(self._process.pid)
        deadline = time.monotonic() + timeout
        assert self._process.stdout is not None
        while time.monotonic() < deadline:
            line = self._process.stdout.readline()
            if not line:
                break
            self._output.append(line)
            match = _LISTENING.search(line)
            if match:
                self.port = int(match.group(2))
                threading.Thread(target=self._drain, daemon=True).start()
                return self
        self.stop()
        raise RuntimeError("Azurite did not start:\n" + "".join(self._output))

    def _drain(self) -> None:
        process = self._process
        if process is None or process.stdout is None:
            return
        for line in process.stdout:
            self._output.append(line)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        untrack(process.pid)


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    server = Azurite().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def queue_store(azurite: Azurite) -> Iterator[QueueStore]:
    """A QueueStore on the session's Azurite with the connector's queues empty, also set as the process store."""
    store = QueueStore(azurite.connection_string)
    for name in (POD_EVENTS_QUEUE, DEAD_LETTER_QUEUE, POISON_QUEUE):
        store.ensure(name)
        store.client(name).clear_messages()
    set_queue_store(store)
    try:
        yield store
    finally:
        set_queue_store(None)


if __name__ == "__main__":
    # Run alone: `python -m tests.fakes.azurite_fixtures` prints the connection string, then serves until Ctrl-C.
    running = Azurite().start()
    print(running.connection_string, flush=True)
    signal.signal(signal.SIGINT, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.pause()
    running.stop()
    sys.exit(0)
