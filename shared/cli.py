"""`python -m shared.cli`: put pod manifests on the queue, look at what waits and what was dead-lettered.

Reads the same settings as the app (environment, else the Values of
local.settings.json in the current folder), or `--connection-string`.
Exit codes: 0 done, 1 Storage or settings failure, 2 usage error, 3 invalid input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shared.config import DEAD_LETTER_QUEUE, POD_EVENTS_QUEUE, POISON_QUEUE, load_settings
from shared.errors import ConfigError, ConnectorError, InvalidMessage, RetryableError
from shared.messages import Message, PodRef, parse_message, pod_ref_from_manifest, trim_manifest

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INVALID = 0, 1, 2, 3
DEFAULT_CONNECTION = "UseDevelopmentStorage=true"


class CliError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _settings_env(settings_file: str | None) -> dict[str, str]:
    env = dict(os.environ)
    path = Path(settings_file or "local.settings.json")
    if path.exists():
        try:
            values = json.loads(path.read_text()).get("Values", {})
        except (ValueError, OSError) as error:
            raise CliError(f"cannot read {path}: {error}", EXIT_FAILURE) from None
        for key, value in values.items():
            env.setdefault(key, str(value))
    elif settings_file:
        raise CliError(f"settings file {path} not found", EXIT_USAGE)
    return env


def _load_pods(path: str) -> list[dict[str, Any]]:
    import yaml

    text = sys.stdin.read() if path == "-" else _read(path)
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as error:
        raise CliError(f"{path}: not valid YAML or JSON: {error}", EXIT_INVALID) from None
    pods: list[dict[str, Any]] = []
    for index, document in enumerate(documents):
        items = (
            document.get("items", []) if isinstance(document, dict) and document.get("kind") == "List" else [document]
        )
        for item in items:
            if not isinstance(item, dict) or item.get("kind") != "Pod":
                kind = item.get("kind") if isinstance(item, dict) else type(item).__name__
                raise CliError(f"{path}: document {index + 1} is {kind!r}, expected kind Pod", EXIT_INVALID)
            pods.append(item)
    if not pods:
        raise CliError(f"{path}: no Pod found", EXIT_INVALID)
    return pods


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}", EXIT_USAGE) from None


def _store(args: argparse.Namespace, env: dict[str, str]) -> Any:
    """The queues named by --connection-string, else the app's settings (a connection string or an identity URI)."""
    from shared.azure.queue import FAIL_FAST, QueueStore

    connection = args.connection_string or env.get("AzureWebJobsStorage") or ""
    uri = env.get("AzureWebJobsStorage__queueServiceUri") or ""
    try:
        if connection or not uri:
            store = QueueStore(connection or DEFAULT_CONNECTION, **FAIL_FAST)
        else:
            store = QueueStore(None, queue_service_uri=uri, **FAIL_FAST)
        args.endpoint = store.endpoint  # named in the one-line hint if Storage cannot be reached
        return store
    except ValueError as error:  # the SDK's "connection string is either blank or malformed"
        source = "--connection-string" if args.connection_string else "AzureWebJobsStorage"
        raise CliError(f"{source}: not a usable Storage connection string: {error}", EXIT_USAGE) from None


def _submit(args: argparse.Namespace, env: dict[str, str]) -> int:
    settings = load_settings(env)
    inline = args.inline if args.inline is not None else not settings.cluster_configured
    messages: list[Message] = []
    for pod in _load_pods(args.file):
        ref = pod_ref_from_manifest(pod)
        if not ref.name:
            raise CliError(f"{args.file}: a pod has no metadata.name", EXIT_INVALID)
        message = Message(
            op=args.op,
            pod=ref,
            source="cli",
            node=(pod.get("spec") or {}).get("nodeName"),
            manifest=trim_manifest(pod) if inline else None,
        )
        text = message.to_text()
        parsed = parse_message(text)  # what the worker will see
        if inline and parsed.manifest_omitted:
            raise CliError(
                f"{ref.key}: manifest too large for a queue message even without managedFields and "
                "last-applied-configuration; in standalone mode it cannot be sent as a reference",
                EXIT_INVALID,
            )
        messages.append(message)
    store = _store(args, env)
    for message in messages:
        message_id = store.send(message.to_text())
        print(f"queued {message.op} {message.pod.key if message.pod else ''} as message {message_id}")
    return EXIT_OK


def _delete(args: argparse.Namespace, env: dict[str, str]) -> int:
    namespace, _, name = args.pod.rpartition("/")
    message = Message(op="delete", pod=PodRef(namespace or "default", name, args.uid), source="cli")
    parse_message(message.to_text())
    message_id = _store(args, env).send(message.to_text())
    print(f"queued delete {message.pod.key if message.pod else ''} as message {message_id}")
    return EXIT_OK


def _peek(args: argparse.Namespace, env: dict[str, str], queue: str) -> int:
    for item in _store(args, env).peek(queue=queue, limit=args.limit):
        try:
            body: Any = json.loads(item.text)
        except ValueError:
            body = item.text
        print(json.dumps({"id": item.id, "dequeueCount": item.dequeue_count, "message": body}, indent=None))
    return EXIT_OK


def _logs(args: argparse.Namespace, env: dict[str, str]) -> int:
    """A container's logs in standalone mode, read from ACI (the kubelet API's filtering and follow)."""
    from shared.azure.aci import get_aci_client
    from shared.relay.kubelet.logs import LogOptions
    from shared.relay.kubelet.standalone import NotFoundError, print_logs

    if args.tail is not None and args.tail < 0:
        raise CliError("--tail must be 0 or more", EXIT_USAGE)
    namespace, _, name = args.pod.rpartition("/")
    aci = get_aci_client(load_settings(env))
    options = LogOptions(tail_lines=args.tail, timestamps=args.timestamps, follow=args.follow)
    try:
        print_logs(aci, namespace or "default", name, args.container, options, out=sys.stdout, interval=args.interval)
    except NotFoundError as error:
        raise CliError(str(error), EXIT_FAILURE) from None
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def _aci(env: dict[str, str]) -> Any:
    """The ARM client the app would use (the ACI emulator when no AZURE_SUBSCRIPTION_ID), failing fast."""
    from shared.azure.aci import build_aci_client

    settings = load_settings(env)
    if not settings["AZURE_SUBSCRIPTION_ID"] and settings["ACI_EMULATOR_URL"]:
        ca_file = settings["ACI_EMULATOR_CA_FILE"]
        if ca_file and not Path(ca_file).exists():
            raise CliError(
                f"the ACI emulator's CA file {ca_file} does not exist: is `make start` running (from this folder)? "
                "Without AZURE_SUBSCRIPTION_ID the CLI reads the emulator at " + settings["ACI_EMULATOR_URL"],
                EXIT_FAILURE,
            )
    # a person waits at the terminal: one try, short timeouts
    return build_aci_client(settings, retries=0, connection_timeout=5.0, read_timeout=20.0)


def _groups(args: argparse.Namespace, env: dict[str, str]) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from shared import views

    client = _aci(env)
    listed = list(client.list_groups())
    chosen = listed if args.all else views.managed(listed)
    with ThreadPoolExecutor(8) as pool:  # the list has no instanceView: GET each for state and restarts
        full = [g for g in pool.map(lambda g: client.get(g["name"]) or g, chosen)]
    if args.output == "json":
        print(json.dumps(full, indent=2))
        return EXIT_OK
    if not full:
        print(f"No container groups in resource group {client.resource_group}.")
        return EXIT_OK
    print(views.table([views.group_row(g) for g in sorted(full, key=lambda g: g.get("name", ""))]))
    return EXIT_OK


def _status(args: argparse.Namespace, env: dict[str, str]) -> int:
    from shared import views
    from shared.tags import pod_key

    namespace, _, name = args.pod.rpartition("/")
    wanted = (namespace or "default", name)
    client = _aci(env)
    matches = [g for g in client.list_groups() if pod_key(g) == wanted or g.get("name") == args.pod]
    if not matches:
        raise CliError(f"no container group for pod {wanted[0]}/{wanted[1]} in {client.resource_group}", EXIT_FAILURE)
    for index, group in enumerate(matches):
        full = client.get(group["name"]) or group
        print(("\n" if index else "") + (json.dumps(full, indent=2) if args.output == "json" else views.detail(full)))
    return EXIT_OK


def _peek_limit(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= number <= 32:
        raise argparse.ArgumentTypeError(f"{number} is outside 1-32 (Storage peeks at most 32 messages)")
    return number


def _pod_name(text: str) -> str:
    namespace, _, name = text.rpartition("/")
    if not name or "/" in namespace:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAMESPACE/NAME or NAME")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shared.cli", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--connection-string",
        help="Storage connection string (default: AzureWebJobsStorage, else AzureWebJobsStorage__queueServiceUri "
        f"with az login / managed identity, else {DEFAULT_CONNECTION})",
    )
    parser.add_argument(
        "--settings-file", help="local.settings.json to read settings from (default: ./local.settings.json)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    submit = commands.add_parser("submit", help="queue an upsert (or delete) for each Pod in a YAML/JSON file")
    submit.add_argument("-f", "--file", required=True, help="pod manifest file, or - for standard input")
    submit.add_argument("--op", choices=("upsert", "delete"), default="upsert")
    inline = submit.add_mutually_exclusive_group()
    inline.add_argument("--inline", dest="inline", action="store_true", default=None, help="carry the manifest")
    inline.add_argument("--reference", dest="inline", action="store_false", help="send only namespace/name")
    delete = commands.add_parser("delete", help="queue a delete for NAMESPACE/NAME")
    delete.add_argument("pod", type=_pod_name, help="NAMESPACE/NAME (namespace defaults to default)")
    delete.add_argument("--uid", help="only this incarnation of the pod")
    logs = commands.add_parser("logs", help="print a container's logs from ACI (standalone pods)")
    logs.add_argument("pod", type=_pod_name, help="NAMESPACE/POD (namespace defaults to default)")
    logs.add_argument("-c", "--container", help="container name (needed when the pod has several)")
    logs.add_argument("--tail", type=int, help="only the last N lines")
    logs.add_argument("--timestamps", action="store_true", help="prefix each line with its RFC 3339 time")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing until the container terminates")
    logs.add_argument("--interval", type=float, default=2.0, help="seconds between polls with -f (2 ARM reads each)")
    for name, help_text in (
        ("peek", f"show messages waiting on {POD_EVENTS_QUEUE}, decoded"),
        ("dead-letters", f"show invalid messages on {DEAD_LETTER_QUEUE} with their errors"),
        ("poison", f"show messages the host gave up on ({POISON_QUEUE})"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--limit", type=_peek_limit, default=32, help="1-32: at most this many (Storage's peek limit)")
    groups = commands.add_parser("groups", help="list the connector's container groups (name, pod, OS, state, IP)")
    groups.add_argument("--all", action="store_true", help="also groups this connector did not create")
    status = commands.add_parser("status", help="one pod's container group in detail, with its events")
    status.add_argument("pod", type=_pod_name, help="NAMESPACE/NAME of the pod (or a container group name)")
    for sub in (groups, status):
        sub.add_argument("-o", "--output", choices=("text", "json"), default="text")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        env = _settings_env(args.settings_file)
        if args.command == "submit":
            return _submit(args, env)
        if args.command == "delete":
            return _delete(args, env)
        if args.command == "logs":
            return _logs(args, env)
        if args.command in ("groups", "status"):
            try:
                return (_groups if args.command == "groups" else _status)(args, env)
            except ConnectorError as error:
                hint = ""
                if isinstance(error, RetryableError) and not env.get("AZURE_SUBSCRIPTION_ID"):
                    hint = " (no AZURE_SUBSCRIPTION_ID: this is the ACI emulator; is `make start` running?)"
                print(f"error: ARM: {error}{hint}", file=sys.stderr)
                return EXIT_FAILURE
        queue = {"peek": POD_EVENTS_QUEUE, "dead-letters": DEAD_LETTER_QUEUE, "poison": POISON_QUEUE}[args.command]
        return _peek(args, env, queue)
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.code
    except InvalidMessage as error:
        print(f"error: invalid message: {error}", file=sys.stderr)
        return EXIT_INVALID
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as error:  # Storage unreachable, auth failures: one clear line, not a traceback
        from azure.core.exceptions import AzureError

        if isinstance(error, (AzureError, OSError)):
            storage = args.command not in ("logs", "groups", "status")
            hint = _storage_hint(error, args) if storage else f"ARM: {type(error).__name__}: {error}"
            print(f"error: {hint.splitlines()[0]}", file=sys.stderr)
            return EXIT_FAILURE
        raise


def _storage_hint(error: Exception, args: argparse.Namespace) -> str:
    """One line: what failed, where, and the likely fix (Azurite not running, wrong endpoint, no login)."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError

    endpoint = getattr(args, "endpoint", "") or "the Storage queue endpoint"
    first = (str(error).splitlines() or [""])[0][:200]
    if isinstance(error, ClientAuthenticationError):
        return f"Storage at {endpoint} refused the credentials ({first}): check the key, or run az login"
    if isinstance(error, HttpResponseError):
        return f"Storage at {endpoint} answered {error.status_code}: {first}"
    if isinstance(error, (ServiceRequestError, OSError)):
        return (
            f"cannot reach Storage at {endpoint} ({type(error).__name__}). Is Azurite running "
            "(make start, or npx azurite-queue --skipApiVersionCheck)? Otherwise check --connection-string "
            "or AzureWebJobsStorage"
        )
    return f"Storage at {endpoint}: {type(error).__name__}: {first}"


if __name__ == "__main__":
    sys.exit(main())
