"""`make start`: Storage, ARM and the Functions host on this machine, in the foreground, stopped by Ctrl-C.

Embedded defaults, so the first command works with no Azure and no cluster:
- Storage: when AzureWebJobsStorage is Azurite's (`UseDevelopmentStorage=true` or a
  127.0.0.1 endpoint), Azurite is started there unless something already listens.
- ARM: with no AZURE_SUBSCRIPTION_ID the app talks to the ACI emulator at
  ACI_EMULATOR_URL (default https://127.0.0.1:7443), started here, its CA written to
  ACI_EMULATOR_CA_FILE (default .emulator/ca.pem).
- Kubernetes: with no cluster settings the app runs standalone (pods come inline in messages).
Then `func start` when Core Tools are installed, else the local host (shared/localhost/host.py).
Every child dies with this process (Ctrl-C, SIGTERM, even SIGKILL through PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

DEFAULT_EMULATOR_URL = "https://127.0.0.1:7443"
DEFAULT_EMULATOR_CA = ".emulator/ca.pem"
_children: list[subprocess.Popen[bytes]] = []


class StartError(Exception):
    """Something the user must fix; the message says what."""


def _die_with_parent() -> None:
    """In the child before exec: receive SIGTERM when the launcher dies, however it dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _spawn(args: list[str], *, log_path: Path | None = None, env: dict[str, str] | None = None) -> subprocess.Popen:
    out = open(log_path, "ab") if log_path else None  # noqa: SIM115 - owned by the child; None: our console
    process = subprocess.Popen(
        args,
        stdout=out,
        stderr=subprocess.STDOUT if log_path else None,
        env=env,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - children are spawned before any thread starts
        close_fds=True,
    )
    _children.append(process)
    return process


def stop_children() -> None:
    for process in reversed(_children):
        if process.poll() is None:
            process.terminate()
    for process in reversed(_children):
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    _children.clear()


def _listening(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def _wait_listening(process: subprocess.Popen, host: str, port: int, *, what: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _listening(host, port):
            return
        if process.poll() is not None:
            raise StartError(f"{what} exited at start (code {process.returncode}); its log: {log}\n{_tail(log)}")
        time.sleep(0.1)
    raise StartError(f"{what} did not listen on {host}:{port} within {timeout:.0f} s; its log: {log}")


def _tail(path: Path, lines: int = 15) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


# --------------------------------------------------------------------------- Storage


def azurite_ports(connection: str) -> dict[str, int] | None:
    """Blob/queue/table ports when the connection string is the local emulator's; None for a real account."""
    text = connection.strip().rstrip(";")
    if text.lower() == "usedevelopmentstorage=true":
        return {"blob": 10000, "queue": 10001, "table": 10002}
    parts = dict(part.split("=", 1) for part in text.split(";") if "=" in part)
    ports: dict[str, int] = {}
    for service in ("Blob", "Queue", "Table"):
        endpoint = parts.get(f"{service}Endpoint")
        if not endpoint:
            continue
        url = urlparse(endpoint)
        if url.hostname not in ("127.0.0.1", "localhost") or not url.port:
            return None
        ports[service.lower()] = url.port
    return ports or None


def start_azurite(root: Path, ports: dict[str, int], *, timeout: float, state: Path) -> str:
    if _listening("127.0.0.1", ports.get("queue", 10001)):
        return f"already listening on 127.0.0.1:{ports.get('queue', 10001)} (not started here)"
    binary = root / "node_modules" / ".bin" / "azurite"
    if not binary.exists():
        raise StartError(f"Azurite is not installed ({binary}): run `make node` (npm ci) first")
    (state / ".azurite").mkdir(parents=True, exist_ok=True)
    log = state / ".azurite" / "azurite.log"
    args = [str(binary), "--silent", "--location", str(state / ".azurite"), "--skipApiVersionCheck"]
    args += ["--disableTelemetry", "--loose"]
    for service in ("blob", "queue", "table"):
        args += [f"--{service}Host", "127.0.0.1", f"--{service}Port", str(ports.get(service, 0))]
    process = _spawn(args, log_path=log)
    _wait_listening(process, "127.0.0.1", ports.get("queue", 10001), what="Azurite", log=log, timeout=timeout)
    return f"queue http://127.0.0.1:{ports.get('queue', 10001)} (log {_shown(log, root)})"


# --------------------------------------------------------------------------- ARM


def _shown(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def start_emulator(root: Path, url: str, ca_file: str, *, timeout: float, extra: list[str], state: Path) -> str:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 443
    if parsed.scheme != "https":
        raise StartError(f"ACI_EMULATOR_URL must be https (the Azure SDK sends tokens only over TLS): {url}")
    if _listening(host, port):
        raise StartError(
            f"{host}:{port} is already in use, so the ACI emulator cannot start there: stop what listens "
            "(another `make start`?) or set ACI_EMULATOR_URL to another port"
        )
    (state / ".emulator").mkdir(parents=True, exist_ok=True)
    log = state / ".emulator" / "emulator.log"
    ca_path = ca_file if os.path.isabs(ca_file) else str(root / ca_file)
    args = [sys.executable, "-m", "emulator", "--host", host, "--port", str(port), "--ca-file", ca_path, *extra]
    process = _spawn(args, log_path=log)
    _wait_listening(process, host, port, what="ACI emulator", log=log, timeout=timeout)
    return f"{url} (CA {ca_file}, log {_shown(log, root)}): no AZURE_SUBSCRIPTION_ID, so no real Azure is used"


# --------------------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shared.localhost", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=None, help="HTTP port (default: Host.LocalHttpPort, else 7071)")
    parser.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--key", default=None, help="enforce function/admin auth levels with this key")
    parser.add_argument(
        "--host", choices=("auto", "func", "local"), default="auto", help="func start, the local host, or auto"
    )
    parser.add_argument("--no-azurite", action="store_true", help="do not start Azurite")
    parser.add_argument(
        "--state-dir", default=None, help="where Azurite's data and the logs go (default: the app folder)"
    )
    parser.add_argument(
        "--no-settings-file", action="store_true", help="ignore local.settings.json: the environment only"
    )
    parser.add_argument("--emulator-arg", action="append", default=[], help="extra `python -m emulator` argument")
    parser.add_argument("--start-timeout", type=float, default=60.0, help="seconds each service may take to start")
    return parser


def _banner(label: str, text: str) -> None:
    print(f"{label:<13}{text}", flush=True)


def prepare(root: Path, args: argparse.Namespace) -> dict[str, object]:
    """Load settings, start Storage and ARM as needed, and say what runs where."""
    from shared.localhost.host import load_local_settings

    host_section = {} if args.no_settings_file else load_local_settings(root)
    state = Path(args.state_dir).resolve() if args.state_dir else root
    storage = os.environ.get("AzureWebJobsStorage", "")  # noqa: SIM112 - the host's setting name
    ports = azurite_ports(storage) if storage else None
    if ports and not args.no_azurite:
        _banner("Azurite", start_azurite(root, ports, timeout=args.start_timeout, state=state))
    else:
        _banner("Storage", "AzureWebJobsStorage (not Azurite)" if storage else "AzureWebJobsStorage__queueServiceUri")
    if not os.environ.get("AZURE_SUBSCRIPTION_ID"):
        if not os.environ.get("ACI_EMULATOR_URL") and not args.no_settings_file:
            print(
                f"note: local.settings.json has no ACI_EMULATOR_URL; the app gets {DEFAULT_EMULATOR_URL}, but add it"
                " (and ACI_EMULATOR_CA_FILE) there so `python -m shared.cli groups` finds the emulator too"
                " (local.settings.json.example has both)",
                flush=True,
            )
        url = os.environ.get("ACI_EMULATOR_URL") or DEFAULT_EMULATOR_URL
        ca_file = os.environ.get("ACI_EMULATOR_CA_FILE") or DEFAULT_EMULATOR_CA
        os.environ["ACI_EMULATOR_URL"], os.environ["ACI_EMULATOR_CA_FILE"] = url, ca_file
        where = ["--location", os.environ.get("ACI_REGION") or "westeurope"]
        where += ["--resource-group", os.environ.get("ACI_RESOURCE_GROUP") or "aci-connector-rg"]
        extra = where + args.emulator_arg
        emulator = start_emulator(root, url, ca_file, timeout=args.start_timeout, extra=extra, state=state)
        _banner("ACI emulator", emulator)
    else:
        _banner("ARM", f"{os.environ.get('ARM_ENDPOINT') or 'https://management.azure.com'} (real Azure)")
    cluster = os.environ.get("KUBE_API_URL") or os.environ.get("KUBECONFIG")
    in_cluster = os.environ.get("KUBE_IN_CLUSTER", "").lower() in ("1", "true", "yes", "on")
    _banner("Kubernetes", cluster or ("in-cluster" if in_cluster else "none: standalone mode (pods come inline)"))
    return host_section


def main(argv: list[str] | None = None) -> int:
    launched = time.monotonic()
    args = _parser().parse_args(argv)
    root = Path.cwd()
    if not (root / "function_app.py").exists():
        print("error: run from the app folder (no function_app.py here)", file=sys.stderr)
        return 2
    # Ctrl-C and SIGTERM stop everything, even when started from a shell that ignores SIGINT in the background
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        host_section = prepare(root, args)
        port = args.port or int(host_section.get("LocalHttpPort") or 7071)
        func = shutil.which("func")
        if args.host == "func" or (args.host == "auto" and func):
            if not func:
                raise StartError("--host func: Azure Functions Core Tools (`func`) is not on PATH")
            _banner("Host", f"func start (Core Tools at {func})")
            return _spawn([func, "start", "--port", str(port)], env=dict(os.environ), log_path=None).wait()
        return run_local_host(root, port=port, bind=args.bind, key=args.key, launched=launched)
    except StartError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping: the host, the ACI emulator and Azurite (what this command started).", flush=True)
        return 0
    finally:
        stop_children()


def run_local_host(root: Path, *, port: int, bind: str, key: str | None, launched: float | None = None) -> int:
    from shared.localhost.host import LocalHost
    from shared.localhost.index import NotServable
    from shared.localhost.invoke import configure_console

    configure_console(os.environ.get("LOG_LEVEL") or "INFO")
    host = LocalHost(root=root, port=port, bind=bind, key=key, launched=launched)
    try:
        host.index()
        lines = host.describe()
    except NotServable as error:
        raise StartError(str(error)) from None
    except Exception as error:  # the app failed to import: its own message (a bad setting names itself)
        raise StartError(f"function_app.py failed to load: {type(error).__name__}: {error}") from None
    _banner(
        "Host", f"local Functions host (no Core Tools): http://localhost:{port}" + (" (keys enforced)" if key else "")
    )
    print("\nFunctions:\n", flush=True)
    for line in lines:
        print(f"        {line}", flush=True)
    print(flush=True)
    if _listening(bind if bind != "0.0.0.0" else "127.0.0.1", port):
        raise StartError(f"port {port} is already in use: stop what listens or pass --port")
    host.serve_forever()
    return 0
