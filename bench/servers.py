"""Fakes and Azurite as separate processes for benchmarks, so the measured code has the CPU to itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Spawned:
    process: subprocess.Popen[str]
    url: str
    extra: list[str]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def spawn(module: str, *args: str, extra_lines: int = 0, stdin: bool = False) -> Spawned:
    """Run `python -m module --port 0 ...`; its first stdout line is its base URL. `stdin`: a pipe to command it."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", *args],
        cwd=ROOT,
        stdin=subprocess.PIPE if stdin else None,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("http"):
        process.kill()
        raise RuntimeError(f"{module} did not start: {url!r}")
    extra = [process.stdout.readline().strip() for _ in range(extra_lines)]
    return Spawned(process, url, extra)
