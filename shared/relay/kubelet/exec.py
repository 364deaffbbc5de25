"""/exec and /attach: the Kubernetes remote-command protocols bridged to ACI's exec.

Client side: WebSockets (`v5.channel.k8s.io`, `v4.channel.k8s.io` or `channel.k8s.io`;
binary frames whose first byte is the stream: 0 stdin, 1 stdout, 2 stderr, 3 status,
4 terminal size; v5 adds 255 = close a stream), as apiservers pass kubectl's upgrade
through, or SPDY/3.1 (shared.relay.kubelet.spdy), as apiservers that translate kubectl's
WebSockets and older kubectl versions send it. Both reach the same session code here.
ACI side: POST .../exec (an ARM write) gives a WebSocket URI and a password; the first
message is the password, then terminal input goes up and terminal output comes down.

What ACI cannot do, said plainly rather than approximated:
- it takes one command string and splits it at whitespace, so an argument that is empty or
  holds whitespace or quotes cannot reach the process intact: refused on the status channel;
- it is always a terminal: output comes on stdout only; without `-t` the bridge turns CRLF
  back into LF and removes the terminal's echo of what it sent; end of stdin is sent as
  Ctrl-D, as a terminal does;
- it reports no exit code: a session that ends normally is reported as Success;
- terminal size is fixed when the session starts (the first resize message is used);
- attach (to the container's main process) does not exist in ACI: refused with a reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import ssl
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

from shared.azure.aci import AciClient
from shared.errors import ConnectorError
from shared.kube import KubeClient
from shared.relay.kubelet.pods import Target, resolve, text_error

log = logging.getLogger("aci_connector.relay.kubelet.exec")

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io")
STDIN, STDOUT, STDERR, STATUS, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
RESIZE_WAIT = 1.0
"""Seconds to wait for the client's first terminal size before starting a `-t` session (ACI fixes it at start)."""
_UNSAFE = re.compile(r"[\s'\"\\]")


@dataclass(frozen=True)
class StreamOptions:
    command: tuple[str, ...]
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool


def _flag(query: Any, *names: str) -> bool:
    return any(str(query.get(name, "")).lower() in ("1", "true") for name in names)


def stream_options(query: Any) -> StreamOptions:
    """The kubelet's query (input/output/error/tty as the apiserver writes them, or stdin/stdout/stderr)."""
    return StreamOptions(
        command=tuple(query.getall("command", [])),
        stdin=_flag(query, "input", "stdin"),
        stdout=_flag(query, "output", "stdout"),
        stderr=_flag(query, "error", "stderr"),
        tty=_flag(query, "tty"),
    )


def aci_command(argv: tuple[str, ...]) -> str:
    """The one string ACI runs, or ValueError saying which argument it would change."""
    if not argv:
        raise ValueError("no command given")
    for index, arg in enumerate(argv):
        if arg == "" or _UNSAFE.search(arg):
            raise ValueError(
                f"argument {index} ({arg!r}) cannot be passed to Azure Container Instances, which splits one "
                "command line at whitespace and has no quoting: arguments must be non-empty, without spaces or "
                "quotes (put the command in a script in the image, or run a shell with -it and type it there)"
            )
    return " ".join(argv)


def choose_protocol(header: str) -> str | None:
    """The best protocol the client offered; '' when it offered none (the kubelet's default, channel.k8s.io)."""
    offered = [part.strip() for part in header.split(",") if part.strip()]
    if not offered:
        return ""
    return next((protocol for protocol in PROTOCOLS if protocol in offered), None)


def status_frame(protocol: str, error: str | None, reason: str = "InternalError") -> bytes:
    """Channel 3: a metav1.Status (v4, v5), or the bare error text (channel.k8s.io, where success is silence)."""
    if protocol in ("", "channel.k8s.io"):
        return bytes([STATUS]) + (error or "").encode()
    return bytes([STATUS]) + status_body(error, reason)


class EchoFilter:
    """Drops a terminal's echo of what we typed from its output (non-tty sessions want only the program's output)."""

    def __init__(self) -> None:
        self.pending = ""

    def sent(self, text: str) -> None:
        self.pending += text.replace("\x04", "").replace("\r\n", "\n").replace("\n", "\r\n")

    def output(self, text: str) -> str:
        index = 0
        while self.pending and index < len(text) and text[index] == self.pending[0]:
            index += 1
            self.pending = self.pending[1:]
        return text[index:]


class WebSocketClient:
    """The client side of a session over the WebSocket channel protocols (one byte of stream id per frame)."""

    def __init__(self, ws: web.WebSocketResponse, protocol: str) -> None:
        self.ws = ws
        self.protocol = protocol

    async def next_event(self, timeout: float | None = None) -> tuple[str, Any] | None:
        """("stdin", bytes), ("stdin-closed", None) or ("resize", (rows, cols)); None when the client is gone."""
        while True:
            message = await self.ws.receive(timeout=timeout)
            if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return None
            if message.type != WSMsgType.BINARY or not message.data:
                continue
            channel, payload = message.data[0], message.data[1:]
            if channel == STDIN and payload:
                return "stdin", payload
            if channel == CLOSE and payload[:1] == bytes([STDIN]):
                return "stdin-closed", None
            if channel == RESIZE:
                size = parse_size(payload)
                if size is not None:
                    return "resize", size

    async def stdout(self, data: bytes) -> None:
        await self.ws.send_bytes(bytes([STDOUT]) + data)

    async def status(self, error: str | None, reason: str = "InternalError") -> None:
        await self.ws.send_bytes(status_frame(self.protocol, error, reason))

    async def close(self) -> None:
        await self.ws.close()


def parse_size(payload: bytes) -> tuple[int, int] | None:
    """A TerminalSize message `{"Width", "Height"}` as (rows, cols)."""
    try:
        size = json.loads(payload)
        return int(size["Height"]) or 24, int(size["Width"]) or 80
    except (ValueError, KeyError, TypeError):
        return None


def status_body(error: str | None, reason: str = "InternalError") -> bytes:
    """A metav1.Status as the v4+ protocols carry it on the error stream."""
    if error is None:
        return json.dumps({"metadata": {}, "status": "Success"}).encode()
    return json.dumps({"metadata": {}, "status": "Failure", "message": error, "reason": reason, "code": 500}).encode()


ATTACH_UNSUPPORTED = (
    "attach is not available on Azure Container Instances: ACI cannot connect to a container's main process; "
    "use kubectl logs -f, or kubectl exec"
)


class ExecBridge:
    def __init__(self, node: str, kube: KubeClient, aci: AciClient) -> None:
        self.node = node
        self.kube = kube
        self.aci = aci

    async def handle(self, request: web.Request, *, attach: bool = False) -> web.StreamResponse:
        upgrade = request.headers.get("Upgrade", "").lower()
        if upgrade.startswith("spdy/"):
            from shared.relay.kubelet.spdy import accept_spdy

            info = request.match_info
            target = await resolve(
                self.kube, self.node, info["namespace"], info["pod"], info["container"], uid=info.get("uid")
            )
            return await accept_spdy(request, stream_options(request.query), self._session(target, attach))
        if upgrade != "websocket":
            raise text_error(400, f"expected a WebSocket or SPDY/3.1 upgrade ({', '.join(PROTOCOLS)})")
        protocol = choose_protocol(request.headers.get("Sec-WebSocket-Protocol", ""))
        if protocol is None:
            raise text_error(400, f"none of the offered subprotocols is supported; supported: {', '.join(PROTOCOLS)}")
        info = request.match_info
        target = await resolve(
            self.kube, self.node, info["namespace"], info["pod"], info["container"], uid=info.get("uid")
        )
        ws = web.WebSocketResponse(protocols=[protocol] if protocol else (), max_msg_size=0)
        await ws.prepare(request)
        client = WebSocketClient(ws, protocol)
        try:
            await self._session(target, attach)(client, stream_options(request.query))
        finally:
            await client.close()
        return ws

    def _session(self, target: Target, attach: bool) -> Any:
        async def session(client: Any, options: StreamOptions) -> None:
            if attach:
                await client.status(ATTACH_UNSUPPORTED, "BadRequest")
                return
            try:
                command = aci_command(options.command)
            except ValueError as error:
                await client.status(str(error), "BadRequest")
                return
            await self._run(client, options, target=target, command=command)

        return session

    async def _first_size(self, client: Any, options: StreamOptions, early: list[tuple[str, Any]]) -> tuple[int, int]:
        """(rows, cols): the client's first resize, waited for briefly on -t sessions; other input is kept."""
        if not options.tty:
            return 24, 80
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RESIZE_WAIT
        while (left := deadline - loop.time()) > 0:
            try:
                event = await client.next_event(timeout=left)
            except TimeoutError:
                break
            if event is None:
                break
            if event[0] == "resize":
                return event[1]
            early.append(event)
        return 24, 80

    async def _run(self, client: Any, options: StreamOptions, *, target: Target, command: str) -> None:
        early: list[tuple[str, Any]] = []
        rows, cols = await self._first_size(client, options, early)
        try:
            session = await asyncio.to_thread(
                self.aci.exec_command, target.group, target.container, command, rows, cols
            )
        except ConnectorError as error:
            await client.status(f"ACI exec failed: {error}", "InternalError")
            return
        verify = self.aci.connection_verify
        context = ssl.create_default_context(cafile=verify) if isinstance(verify, str) else None
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(
                session["webSocketUri"], ssl=context if context is not None else verify is not False, max_msg_size=0
            ) as aci,
        ):
            await aci.send_str(session["password"])
            echo = EchoFilter() if not options.tty else None
            upward = asyncio.ensure_future(self._up(client, aci, early, echo))
            error = await self._down(client, aci, options, echo)
            upward.cancel()
        await client.status(error)

    async def _up(self, client: Any, aci: Any, early: list[tuple[str, Any]], echo: EchoFilter | None) -> None:
        """Client -> ACI: stdin as terminal input; end of stdin as Ctrl-D; resizes ignored after the start."""

        async def forward(event: tuple[str, Any]) -> None:
            kind, payload = event
            text = payload.decode(errors="replace") if kind == "stdin" else "\x04" if kind == "stdin-closed" else ""
            if text:
                if echo is not None:
                    echo.sent(text)
                await aci.send_str(text)

        for event in early:
            await forward(event)
        while (event := await client.next_event()) is not None:
            await forward(event)
        await aci.close()

    async def _down(self, client: Any, aci: Any, options: StreamOptions, echo: EchoFilter | None) -> str | None:
        """ACI -> client until ACI closes; the error to report, None for a normal end."""
        async for message in aci:
            if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                text = message.data if isinstance(message.data, str) else message.data.decode(errors="replace")
                if echo is not None:
                    text = echo.output(text).replace("\r\n", "\n")
                if text and options.stdout:
                    await client.stdout(text.encode())
            elif message.type == WSMsgType.ERROR:
                return f"the ACI exec session failed: {aci.exception()}"
        code = aci.close_code
        if code not in (None, 1000):
            return f"the ACI exec session ended abnormally (WebSocket close code {code})"
        return None
