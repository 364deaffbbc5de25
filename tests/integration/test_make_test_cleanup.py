"""The test command stops what it started when interrupted (Ctrl-C) or when pytest is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INNER = "tests/integration/test_interrupt_target.py"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# Ctrl-C works on a command typed in a terminal: SIGINT has its default action. A run started in the background
# by a script (`nohup ... &`, as the soak loop is) inherits SIGINT *ignored*, and an ignored signal stays ignored
# across exec (bash may not even trap it), so the inner run starts through this, which gives it what a terminal does.
AS_FROM_A_TERMINAL = [
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])",
]


# The inner run skips the checks before pytest (ACI_TEST_PYTEST_ONLY): this test is about the script's cleanup.
def _started(tmp_path: Path, timeout: float = 300) -> tuple[subprocess.Popen[bytes], int]:
    env = {**os.environ, "ACI_INTERRUPT_TARGET": "1", "ACI_TEST_PYTEST_ONLY": "1", "TMPDIR": str(tmp_path)}
    env.pop("ACI_TEST_RUN_DIR", None)
    with (tmp_path / "inner.log").open("wb") as log:  # read back only to explain a failure
        process = subprocess.Popen(
            [*AS_FROM_A_TERMINAL, "bash", "scripts/test.sh", "-p", "no:cacheprovider", "-s", INNER],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid_files = list(tmp_path.glob("tmp*/*.pid"))
        if pid_files:
            return process, int(pid_files[0].read_text())
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError("the inner test run never started Azurite")


def _wait_exit(process: subprocess.Popen[bytes], tmp_path: Path, timeout: float = 60) -> None:
    """Wait for the interrupted run to end; if it does not, say what its processes were doing, then kill them."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        command = ["ps", "-s", str(process.pid), "-o", "pid,stat,etime,wchan:24,args"]
        ps = subprocess.run(command, capture_output=True, text=True, check=False).stdout
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        output = (tmp_path / "inner.log").read_text(errors="replace")[-4000:]
        raise AssertionError(f"the interrupted run did not end within {timeout} s\n{ps}\n{output}") from None


@pytest.mark.timeout(480)
@pytest.mark.parametrize(("signal_to", "sig"), [("group", signal.SIGINT), ("pytest", signal.SIGKILL)])
def test_interrupted_run_leaves_no_azurite_behind(tmp_path, signal_to, sig):
    process, azurite_pid = _started(tmp_path)
    assert _alive(azurite_pid)
    if signal_to == "group":  # what Ctrl-C in a terminal does
        os.killpg(process.pid, sig)
    else:  # pytest dies without running its teardown
        pytest_pids = subprocess.run(
            ["pgrep", "-g", str(process.pid), "-f", "pytest"], capture_output=True, text=True, check=False
        ).stdout.split()
        assert pytest_pids
        for pid in pytest_pids:
            os.kill(int(pid), sig)
    _wait_exit(process, tmp_path)
    deadline = time.monotonic() + 20
    while _alive(azurite_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(azurite_pid)
    assert list(tmp_path.glob("tmp*")) == []  # the run folder is removed too
