"""`make demo`: the walkthrough runs end to end on the real kube-apiserver, in time, and leaves nothing running."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIME_LIMIT = 300


def _real_kube_or_skip() -> None:
    try:
        from tests.fakes.kube_real import RealKubeUnavailable, ensure_binaries
    except ImportError:
        pytest.skip("tests/fakes/kube_real.py (the real kube-apiserver of issue 12) is not in this checkout")
    try:
        ensure_binaries()
    except RealKubeUnavailable as error:
        pytest.skip(str(error))


def _left_running(marker: str) -> list[str]:
    found = subprocess.run(["pgrep", "-af", marker], capture_output=True, text=True, check=False)
    return [line for line in found.stdout.splitlines() if "pgrep" not in line]


PROFILES = {
    # profile: (manifest, Linux node, Windows node, the container name `status` shows)
    "default": ("iis-windows.yaml", "aci-connector-linux", "aci-connector-windows", "iis"),
    "2017": ("iis-2017.yaml", "aci-connector-0", "aci-connector-1", "iis-winsvrcore"),
}


def _run_demo(tmp_path: Path, profile: str) -> str:
    """One `make demo` run in its own TMPDIR (so what it leaves behind can be found): its transcript."""
    _real_kube_or_skip()
    env = {**os.environ, "TMPDIR": str(tmp_path), "DEMO_TIMEOUT": str(TIME_LIMIT - 30), "PROFILE": profile}
    result = subprocess.run(
        [sys.executable, "scripts/demo.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _check_the_2017_walkthrough_word_for_word(transcript: str) -> None:
    """`make demo PROFILE=2017`: the 2017 nodes, the issue's pod pinned to aci-connector-1, <ip>:80 on Windows."""
    assert "VIRTUAL_NODE_PROFILE=aci-connector-2017" in transcript
    assert re.search(r"aci-connector-0\s+linux\s+linux\s+virtual-kubelet.io/provider,azure.com/aci", transcript)
    assert re.search(r"aci-connector-1\s+windows\s+windows\s+virtual-kubelet.io/provider,azure.com/aci", transcript)
    assert "No kube-scheduler" not in transcript  # pinned by nodeName: nothing binds it
    assert "OS:            Windows" in transcript
    assert "Requests:  cpu 1.0, memory 1.5 GB" in transcript
    assert re.search(r"Normal\s+DefaultPortOpened\s+The pod declares no ports: opened port 80/TCP", transcript)


@pytest.mark.slow
@pytest.mark.timeout(TIME_LIMIT + 60)
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_make_demo_runs_the_walkthrough_and_cleans_up(tmp_path, profile):
    """Each profile's demo runs once (30 s of a warm `make test`); its profile's own checks read that transcript."""
    manifest, linux, windows, container = PROFILES[profile]
    transcript = _run_demo(tmp_path, profile)
    for command in (
        "$ kubectl get nodes -o wide",
        f"$ kubectl apply -f docs/examples/{manifest}",
        "$ kubectl get pod iis-winsvrcore -n default -o wide",
        "$ kubectl logs iis-winsvrcore -n default",
        "$ kubectl delete pod iis-winsvrcore -n default --timeout=90s",
    ):
        assert command in transcript
    assert re.search(rf"{linux}\s+Ready", transcript)
    assert re.search(rf"{windows}\s+Ready", transcript)
    assert re.search(r"iis-winsvrcore\s+0/1\s+(Pending|ContainerCreating)", transcript)
    running = re.search(rf"iis-winsvrcore\s+1/1\s+Running\s+\d+\s+\S+\s+(\d+\.\d+\.\d+\.\d+)\s+{windows}", transcript)
    assert running, transcript
    group = re.search(r"default/iis-winsvrcore\s+Windows\s+Running\s+(\S+)", transcript)
    assert group and group.group(1) == running.group(1)  # the pod IP is the container group's IP
    assert f"IP:            {running.group(1)} (Public; ports 80/TCP)" in transcript
    assert f"  {container}:\n    Image:     microsoft/iis:windowsservercore" in transcript
    assert "Service 'w3svc' started" in transcript  # kubectl logs through the relay's kubelet API
    assert 'pod "iis-winsvrcore" deleted' in transcript
    assert transcript.rstrip().endswith("# Done: stopping everything the demo started.")
    assert "No container groups in resource group" in transcript
    assert _left_running(str(tmp_path)) == []
    assert not any(tmp_path.glob("aci-demo-*"))  # its work folder is removed
    if profile == "2017":
        _check_the_2017_walkthrough_word_for_word(transcript)
