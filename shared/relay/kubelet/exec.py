"""/exec and /attach: the Kubernetes WebSocket remote-command protocols bridged to ACI's exec.

Client side (the apiserver passes kubectl's upgrade through): `v5.channel.k8s.io`,
`v4.channel.k8s.io` or `channel.k8s.io`; binary frames whose first byte is the stream
(0 stdin, 1 stdout, 2 stderr, 3 status, 4 terminal size; v5 adds 255 = close a stream).
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
import contextlib
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
    if error is None:
        body: dict[str, Any] = {"metadata": {}, "status": "Success"}
    else:
        body = {"metadata": {}, "status": "Failure", "message": error, "reason": reason, "code": 500}
    return bytes([STATUS]) + json.dumps(body).encode()


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


class ExecBridge:
    def __init__(self, node: str, kube: KubeClient, aci: AciClient) -> None:
        self.node = node
        self.kube = kube
        self.aci = aci

    async def handle(self, request: web.Request, *, attach: bool = False) -> web.StreamResponse:
        if "spdy" in request.headers.get("Upgrade", "").lower():
            raise text_error(
                400,
                "SPDY is not supported by this kubelet (Azure Container Instances virtual node): it speaks the "
                f"WebSocket remote-command protocols {', '.join(PROTOCOLS)}; use kubectl 1.30 or newer, through an "
                "apiserver that passes WebSocket upgrades to kubelets",
            )
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise text_error(400, f"expected a WebSocket upgrade ({', '.join(PROTOCOLS)})")
        protocol = choose_protocol(request.headers.get("Sec-WebSocket-Protocol", ""))
        if protocol is None:
            raise text_error(400, f"none of the offered subprotocols is supported; supported: {', '.join(PROTOCOLS)}")
        info = request.match_info
        target = await resolve(
            self.kube, self.node, info["namespace"], info["pod"], info["container"], uid=info.get("uid")
        )
        options = stream_options(request.query)
        ws = web.WebSocketResponse(protocols=[protocol] if protocol else (), max_msg_size=0)
        await ws.prepare(request)
        try:
            if attach:
                await self._fail(
                    ws,
                    protocol,
                    "attach is not available on Azure Container Instances: ACI cannot "
                    "connect to a container's main process; use kubectl logs -f, or kubectl exec",
                )
                return ws
            try:
                command = aci_command(options.command)
            except ValueError as error:
                await self._fail(ws, protocol, str(error), "BadRequest")
                return ws
            await self._run(ws, protocol, options, target=target, command=command)
        finally:
            await ws.close()
        return ws

    async def _fail(self, ws: web.WebSocketResponse, protocol: str, message: str, reason: str = "BadRequest") -> None:
        await ws.send_bytes(status_frame(protocol, message, reason))

    async def _first_size(
        self, ws: web.WebSocketResponse, options: StreamOptions, early: list[bytes]
    ) -> tuple[int, int]:
        """(rows, cols): the client's first resize message, waited for briefly on -t sessions; stdin is kept."""
        if not options.tty:
            return 24, 80
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RESIZE_WAIT
        while (left := deadline - loop.time()) > 0:
            try:
                message = await ws.receive(timeout=left)
            except TimeoutError:
                break
            if message.type != WSMsgType.BINARY or not message.data:
                break
            if message.data[0] == RESIZE:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    size = json.loads(message.data[1:])
                    return int(size["Height"]) or 24, int(size["Width"]) or 80
            else:
                early.append(message.data)
        return 24, 80

    async def _run(
        self, ws: web.WebSocketResponse, protocol: str, options: StreamOptions, *, target: Target, command: str
    ) -> None:
        early: list[bytes] = []
        rows, cols = await self._first_size(ws, options, early)
        try:
            session = await asyncio.to_thread(
                self.aci.exec_command, target.group, target.container, command, rows, cols
            )
        except ConnectorError as error:
            await self._fail(ws, protocol, f"ACI exec failed: {error}", "InternalError")
            return
        verify = self.aci.connection_verify
        context = ssl.create_default_context(cafile=verify) if isinstance(verify, str) else None
        async with (
            aiohttp.ClientSession() as client,
            client.ws_connect(
                session["webSocketUri"], ssl=context if context is not None else verify is not False, max_msg_size=0
            ) as aci,
        ):
            await aci.send_str(session["password"])
            echo = EchoFilter() if not options.tty else None
            upward = asyncio.ensure_future(self._up(ws, aci, early, echo))
            error = await self._down(ws, aci, options, echo)
            upward.cancel()
        await ws.send_bytes(status_frame(protocol, error))

    async def _up(self, ws: web.WebSocketResponse, aci: Any, early: list[bytes], echo: EchoFilter | None) -> None:
        """Client -> ACI: stdin as terminal input; close of stdin (v5) as Ctrl-D; resizes ignored after the start."""

        async def send(text: str) -> None:
            if echo is not None:
                echo.sent(text)
            await aci.send_str(text)

        for data in early:
            if data[0] == STDIN:
                await send(data[1:].decode(errors="replace"))
        async for message in ws:
            if message.type != WSMsgType.BINARY or not message.data:
                continue
            channel, payload = message.data[0], message.data[1:]
            if channel == STDIN and payload:
                await send(payload.decode(errors="replace"))
            elif channel == CLOSE and payload[:1] == bytes([STDIN]):
                await send("\x04")
        await aci.close()

    async def _down(
        self, ws: web.WebSocketResponse, aci: Any, options: StreamOptions, echo: EchoFilter | None
    ) -> str | None:
        """ACI -> client until ACI closes; the error to report, None for a normal end."""
        async for message in aci:
            if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                text = message.data if isinstance(message.data, str) else message.data.decode(errors="replace")
                if echo is not None:
                    text = echo.output(text).replace("\r\n", "\n")
                if text and options.stdout:
                    await ws.send_bytes(bytes([STDOUT]) + text.encode())
            elif message.type == WSMsgType.ERROR:
                return f"the ACI exec session failed: {aci.exception()}"
        code = aci.close_code
        if code not in (None, 1000):
            return f"the ACI exec session ended abnormally (WebSocket close code {code})"
        return None
