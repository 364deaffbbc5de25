"""`make demo`: the 2017 ACI connector walkthrough, offline, on a real kube-apiserver.

Starts a real kube-apiserver and etcd (tests/fakes/kube_real.py; scripts/kube-apiserver.sh builds
the server once), then what `make start` runs (Azurite, the ACI emulator, the Functions app under
the local host) pointed at that cluster, and the watch relay with the kubelet API. Then, printing
each command before running it: the virtual nodes Ready, the walkthrough's pod applied with
kubectl, Pending -> Running with the container group's IP, its logs, the group, the delete and the
group gone. Everything it started is stopped at the end, on failure and on Ctrl-C too.

`PROFILE` picks the walkthrough (`make demo PROFILE=2017`), `MANIFEST=path` replaces its pod.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Profile:
    """One walkthrough: its pod manifest and the connector settings it runs with."""

    manifest: str
    settings: dict[str, str] = field(default_factory=dict)
    about: str = ""
    exposure: bool = False
    """Also show what `az container list` showed in 2017: the group's IP:port, OS and size, and why port 80."""


PROFILES: dict[str, Profile] = {
    "default": Profile(
        "docs/examples/iis-windows.yaml",
        {"VIRTUAL_NODE_OS": "linux,windows"},
        "today's node names; the IIS pod selects the Windows virtual node by labels",
    ),
    "2017": Profile(
        "docs/examples/iis-2017.yaml",
        {"VIRTUAL_NODE_PROFILE": "aci-connector-2017"},
        "the 2017 node names (aci-connector-0, aci-connector-1) and the walkthrough's pod word for word",
        exposure=True,
    ),
}


class DemoError(Exception):
    """The walkthrough could not go on; the message says where."""


def _two_free_ports(taken: Iterable[int]) -> int:
    """A port p with p + 1 free too, neither of them one of `taken` (ports chosen for the demo's other servers,
    free again until those start). Another run may still take them: the relay then says so at once."""
    import socket

    taken = set(taken)
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            if {port, port + 1} & taken:
                continue
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise DemoError("no two consecutive free ports for the relay's kubelet API")


def _load_pod(path: Path) -> dict[str, Any]:
    import yaml

    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    pods = [d for d in documents if d.get("kind") == "Pod"]
    if len(pods) != 1:
        raise DemoError(f"{path}: expected exactly one Pod, found {len(pods)}")
    return pods[0]


class Demo:
    def __init__(self, profile: Profile, manifest: Path, workdir: Path, timeout: float) -> None:
        self.profile = profile
        self.manifest = manifest
        self.pod = _load_pod(manifest)
        self.name = self.pod["metadata"]["name"]
        self.namespace = self.pod["metadata"].get("namespace", "default")
        self.workdir = workdir
        self.deadline = time.monotonic() + timeout
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.kube: Any = None
        self.env: dict[str, str] = dict(os.environ)
        self.app_env: dict[str, str] = {}

    # ---- output and waiting

    @staticmethod
    def say(text: str) -> None:
        print(f"\n# {text}", flush=True)

    def run(self, *command: str, check: bool = True, show: bool = True, quiet: bool = False, env: Any = None) -> str:
        """Print `$ command`, run it (kubectl sees the demo's kubeconfig), print what it printed."""
        shown = " ".join(shlex.quote(part) for part in command)
        if show:
            print(f"$ {shown}", flush=True)
        result = subprocess.run(
            list(command), cwd=ROOT, env=env or self.env, capture_output=True, text=True, timeout=120, check=False
        )
        output = (result.stdout + result.stderr).rstrip()
        if output and not quiet:
            print(output, flush=True)
        if check and result.returncode != 0:
            raise DemoError(f"`{shown}` failed with exit code {result.returncode}")
        return result.stdout

    def cli(self, *args: str) -> str:
        """`python -m shared.cli ...` with the connector's settings (what a second terminal would have)."""
        print(f"$ python -m shared.cli {' '.join(args)}", flush=True)
        return self.run(sys.executable, "-m", "shared.cli", *args, show=False, env=self.app_env)

    def until(self, what: str, check: Callable[[], Any], timeout: float) -> Any:
        deadline = min(self.deadline, time.monotonic() + timeout)
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.5)
        raise DemoError(f"timed out waiting for {what}")

    # ---- processes

    def spawn(self, name: str, args: list[str], env: dict[str, str], ready: str | None = None) -> None:
        log = self.workdir / f"{name}.log"
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes.append((name, process))
        if ready:
            self.until(f"{name} to start", lambda: self._started(process, log, ready, name), 90)

    @staticmethod
    def _started(process: subprocess.Popen[bytes], log: Path, text: str, name: str) -> bool:
        if process.poll() is not None:
            raise DemoError(f"{name} exited ({process.returncode}):\n{log.read_text(errors='replace')[-3000:]}")
        return text in log.read_text(errors="replace")

    def stop(self) -> None:
        """Stop every process this demo started (each in its own session, so its children too)."""
        for _name, process in reversed(self.processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for _name, process in reversed(self.processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if self.kube is not None:
            self.kube.stop()

    # ---- the walkthrough

    def start_cluster(self) -> None:
        import trustme

        from tests.fakes.kube_real import RealKube

        self.say("A real kube-apiserver and etcd on 127.0.0.1 (no scheduler, no controllers, no kubelet)")
        client = self.workdir / "kubelet-client"
        client.mkdir()
        ca = trustme.CA()  # the apiserver reaches the relay's kubelet API with a certificate the relay checks
        ca.cert_pem.write_to_path(str(client / "ca.crt"))
        cert = ca.issue_cert(
            "kube-apiserver-kubelet-client",
            common_name="kube-apiserver-kubelet-client",
            organization_name="system:masters",
        )
        cert.private_key_pem.write_to_path(str(client / "tls.key"))
        cert.cert_chain_pems[0].write_to_path(str(client / "tls.crt"))
        (self.workdir / "cluster").mkdir()
        self.kube = RealKube(
            workdir=str(self.workdir / "cluster"),
            extra_args=[
                f"--kubelet-client-certificate={client / 'tls.crt'}",
                f"--kubelet-client-key={client / 'tls.key'}",
                "--kubelet-preferred-address-types=InternalIP",
            ],
        )
        self.kube.start()
        kubeconfig = self.kube.kubeconfig(self.workdir / "kubeconfig")
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
        self.client_ca = str(client / "ca.crt")
        self.run("kubectl", "version")

    def start_connector(self) -> None:
        from tests.fakes.azurite_fixtures import AZURITE_ACCOUNT, AZURITE_KEY
        from tests.fakes.kube_real import free_ports

        self.say("The connector: what `make start` runs (Azurite, ACI emulator, Functions app), and the relay")
        ports = free_ports(6)
        blob, queue, table, arm, http, health = ports
        kubelet = _two_free_ports(ports)  # the relay serves the second node's kubelet API on port + 1
        account = AZURITE_ACCOUNT
        storage = (
            f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{blob}/{account};QueueEndpoint=http://127.0.0.1:{queue}/{account};"
            f"TableEndpoint=http://127.0.0.1:{table}/{account};"
        )
        app = {
            key: value
            for key, value in os.environ.items()
            if key not in ("AZURE_SUBSCRIPTION_ID", "KUBECONFIG", "KUBE_IN_CLUSTER")
        }
        app.update(
            {
                "PYTHONUNBUFFERED": "1",
                "AzureWebJobsStorage": storage,
                "ACI_EMULATOR_URL": f"https://127.0.0.1:{arm}",
                "ACI_EMULATOR_CA_FILE": str(self.workdir / "emulator-ca.pem"),
                "KUBE_API_URL": self.kube.url,
                "KUBE_BEARER_TOKEN": self.kube.admin_token,
                "KUBE_CA_CERT": self.kube.ca_pem,
                "RECONCILE_SCHEDULE": "*/5 * * * * *",
                "RELAY_HEALTH_PORT": str(health),
                "RELAY_KUBELET_ENABLED": "true",
                "RELAY_KUBELET_PORT": str(kubelet),
                "RELAY_POD_IP": "127.0.0.1",
                "RELAY_POD_NAME": "demo/relay",
                "RELAY_KUBELET_CLIENT_CA": self.client_ca,
                **self.profile.settings,
            }
        )
        self.app_env = app
        launcher = ["python", "-m", "shared.localhost", "--port", str(http), "--host", "local"]
        chosen = " ".join(f"{key}={value}" for key, value in self.profile.settings.items())
        print(f"$ {' '.join(launcher)}   # `make start`, with KUBE_API_URL and {chosen}", flush=True)
        private = ["--state-dir", str(self.workdir), "--no-settings-file"]  # nothing from or into the checkout
        self.spawn("connector", [sys.executable, *launcher[1:], *private], app, ready="Host started")
        for line in (self.workdir / "connector.log").read_text().splitlines():
            if line.startswith(("Azurite", "ACI emulator", "Kubernetes", "Host ", "        ")):
                print(f"  {line.strip()}", flush=True)

    def nodes_ready(self) -> None:
        self.say("The virtual nodes register and turn Ready (the reconciler timer; every 5 s here)")

        def ready() -> bool:
            out = self.run("kubectl", "get", "nodes", "--no-headers", check=False, show=False, quiet=True)
            rows = [line.split() for line in out.splitlines() if line.strip()]
            return len(rows) >= 2 and all(row[1] == "Ready" for row in rows)

        self.until("both virtual nodes Ready", ready, 60)
        self.say("The watch relay: relays pod changes to the queue and serves the nodes' kubelet API")
        print("$ python -m shared.relay", flush=True)
        self.spawn("relay", [sys.executable, "-m", "shared.relay"], self.app_env)

        relay_process, relay_log = self.processes[-1][1], self.workdir / "relay.log"

        def advertised() -> bool:
            self._started(relay_process, relay_log, "", "the relay")  # raises with its log if it died
            nodes = json.loads(self.run("kubectl", "get", "nodes", "-o", "json", show=False, quiet=True))["items"]
            return bool(nodes) and all(
                any(a["type"] == "InternalIP" for a in n["status"].get("addresses") or []) for n in nodes
            )

        self.until("the relay to advertise the kubelet API on the nodes", advertised, 30)
        self.run("kubectl", "get", "nodes", "-o", "wide")
        self.run(
            "kubectl",
            "get",
            "nodes",
            "-o",
            "custom-columns=NAME:.metadata.name,OS:.metadata.labels.kubernetes\\.io/os,"
            + ("BETA-OS:.metadata.labels.beta\\.kubernetes\\.io/os," if self.profile.exposure else "")
            + "TAINTS:.spec.taints[*].key",
        )
        print(
            "(node.kubernetes.io/not-ready is put on every new node by the apiserver's admission; the node"
            " lifecycle controller, which does not run here, takes it off once the node is Ready)",
            flush=True,
        )

    def create_pod(self) -> str:
        self.say(f"The walkthrough's pod ({self.manifest.relative_to(ROOT)})")
        self.run("cat", str(self.manifest.relative_to(ROOT)))
        self.run("kubectl", "apply", "-f", str(self.manifest.relative_to(ROOT)))
        node = self.pod.get("spec", {}).get("nodeName")
        if not node:
            node = self._schedule()
        return node

    def _schedule(self) -> str:
        """No kube-scheduler runs here: bind the pod to the matching virtual node, as the scheduler would."""
        selector = self.pod["spec"].get("nodeSelector") or {}
        nodes = json.loads(self.run("kubectl", "get", "nodes", "-o", "json", show=False, quiet=True))["items"]
        matching = [
            n["metadata"]["name"]
            for n in nodes
            if all(n["metadata"]["labels"].get(k) == v for k, v in selector.items())
        ]
        if len(matching) != 1:
            raise DemoError(f"nodeSelector {selector} matches {matching or 'no node'}")
        self.say(f"No kube-scheduler in this offline control plane: bind the pod to {matching[0]} as it would")
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "target": {"apiVersion": "v1", "kind": "Node", "name": matching[0]},
        }
        path = self.workdir / "binding.json"
        path.write_text(json.dumps(binding))
        self.run(
            "kubectl",
            "create",
            "--raw",
            f"/api/v1/namespaces/{self.namespace}/pods/{self.name}/binding",
            "-f",
            str(path),
            quiet=True,
        )
        return matching[0]

    def watch_running(self) -> None:
        self.say("Pending while ACI provisions, Running once ACI runs the group, with the group's IP as pod IP")
        command = ("kubectl", "get", "pod", self.name, "-n", self.namespace, "-o", "wide")
        print(f"$ {' '.join(command)}   # repeated until Running", flush=True)
        seen: list[tuple[str, ...]] = []

        def running() -> bool:
            lines = self.run(*command, check=False, show=False, quiet=True).splitlines()
            if len(lines) != 2:
                return False
            row = lines[1].split()
            state = (row[1], row[2], row[5])  # READY, STATUS, IP: print a line when one of them changes
            if state not in seen:
                if not seen:
                    print(lines[0], flush=True)
                seen.append(state)
                print(lines[1], flush=True)
            return row[2] == "Running" and row[5] != "<none>"

        self.until("the pod Running", running, 120)

    def show_group_and_logs(self) -> None:
        self.say("The container group behind the pod (the ACI emulator), and the pod's logs through the kubelet API")
        self.cli("groups")
        self.cli("status", f"{self.namespace}/{self.name}")  # what `az container show` would say
        logs = ("kubectl", "logs", self.name, "-n", self.namespace)
        with contextlib.suppress(DemoError):  # the first lines may take a moment to reach ACI's log store
            self.until("logs", lambda: self.run(*logs, check=False, show=False, quiet=True).strip(), 20)
        self.run(*logs, check=False)

    def show_exposure(self) -> None:
        """The 2017 user's `az container list`: IP:ports, Windows, 1 core / 1.5 GB; and the Event saying why port 80."""
        if not self.profile.exposure:
            return
        self.say("The group's public IP and port (what `az container list` showed), and why port 80 is open")
        self.cli("status", f"{self.namespace}/{self.name}")
        self.run(
            "kubectl",
            "get",
            "events",
            "-n",
            self.namespace,
            "--field-selector",
            f"involvedObject.name={self.name},reason=DefaultPortOpened",
            "-o",
            "custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message",
        )

    def delete(self) -> None:
        self.say("Delete: the connector deletes the group, then the pod is gone")
        self.run("kubectl", "delete", "pod", self.name, "-n", self.namespace, "--timeout=90s")
        self.run("kubectl", "get", "pods", "-n", self.namespace)
        self.until("the group to be gone", lambda: "No container groups" in self.cli("groups"), 30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default=os.environ.get("PROFILE") or "default", choices=sorted(PROFILES))
    parser.add_argument("--manifest", default=os.environ.get("MANIFEST") or None, help="pod manifest to use instead")
    parser.add_argument("--timeout", type=float, default=float(os.environ.get("DEMO_TIMEOUT") or 300))
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs) after the demo")
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    manifest = (ROOT / (args.manifest or profile.manifest)).resolve()
    if not manifest.exists():
        print(f"error: {manifest} does not exist (profile {args.profile}: {profile.about})", file=sys.stderr)
        return 2
    from shared.config import setting_names

    missing = sorted(set(profile.settings) - set(setting_names()))
    if missing:
        print(
            f"error: profile {args.profile} needs setting(s) {', '.join(missing)}, not in this version", file=sys.stderr
        )
        return 2
    if not shutil.which("kubectl"):
        print("error: kubectl is not on PATH", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="aci-demo-"))
    demo = Demo(profile, manifest, workdir, args.timeout)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(f"# Profile {args.profile}: {profile.about}", flush=True)
    try:
        demo.start_cluster()
        demo.start_connector()
        demo.nodes_ready()
        demo.create_pod()
        demo.watch_running()
        demo.show_group_and_logs()
        demo.show_exposure()
        demo.delete()
        print("\n# Done: stopping everything the demo started.", flush=True)
        return 0
    except (DemoError, RuntimeError, OSError, ImportError) as error:  # RealKubeUnavailable: a RuntimeError
        print(f"\ndemo failed: {error}\n(logs in {workdir})", file=sys.stderr, flush=True)
        args.keep = True
        return 1
    except KeyboardInterrupt:
        print("\n# Interrupted: stopping everything the demo started.", flush=True)
        return 130
    finally:
        demo.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
