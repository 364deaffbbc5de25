"""SPDY/3.1 for /exec and /attach: what apiservers that translate kubectl's WebSockets send to kubelets.

Recent apiservers receive kubectl's WebSocket (v5.channel.k8s.io) and speak SPDY to the
kubelet; older kubectl versions speak SPDY end to end. The remote-command protocol over SPDY
(v4.channel.k8s.io, or v5 which is the same over SPDY) opens one SPDY stream per channel,
client-initiated, in a fixed order: error, then stdin, stdout, stderr (not with a tty) and
resize (only with a tty), as the query's input/output/error/tty flags announce. Each stream
is acknowledged with a SYN_REPLY; stdin's FIN is the end of input; resize carries
TerminalSize JSON objects; the status (metav1.Status JSON) goes on the error stream, then
every stream the server writes is finished and the connection goes away.

Only what that protocol uses is implemented: SYN_STREAM/SYN_REPLY, DATA with FIN, PING
echo, GOAWAY, and RST_STREAM of streams nobody asked for; SETTINGS and WINDOW_UPDATE are
read and ignored (the client's 64 KiB window is far above what a terminal sends). Header
blocks we send are zlib-compressed without the SPDY dictionary, which zlib readers accept
(the dictionary is used only when a stream declares it); the client's header blocks are not
read: the stream order above identifies each stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from shared.relay.kubelet.pods import text_error

SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
REFUSED_STREAM = 3
VERSION = 3
PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STREAM_SETUP_SECONDS = 30.0
"""How long the client has to open every stream it announced (the kubelet's streamCreationTimeout)."""

log = logging.getLogger("aci_connector.relay.kubelet.spdy")

Session = Callable[[Any, Any], Awaitable[None]]


def control_frame(kind: int, payload: bytes, flags: int = 0) -> bytes:
    return struct.pack(">HHB", 0x8000 | VERSION, kind, flags) + len(payload).to_bytes(3, "big") + payload


def data_frame(stream_id: int, data: bytes, *, fin: bool = False) -> bytes:
    return struct.pack(">IB", stream_id & 0x7FFFFFFF, FLAG_FIN if fin else 0) + len(data).to_bytes(3, "big") + data


class Frame:
    __slots__ = ("control", "flags", "kind", "payload", "stream_id")

    def __init__(self, control: bool, kind: int, stream_id: int, flags: int, payload: bytes) -> None:
        self.control, self.kind, self.stream_id, self.flags, self.payload = control, kind, stream_id, flags, payload


class FrameReader:
    """aiohttp's payload-parser interface: bytes of the upgraded connection in, whole frames out on a queue."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.frames: asyncio.Queue[Frame | None] = asyncio.Queue()

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.buffer += data
        while len(self.buffer) >= 8:
            length = int.from_bytes(self.buffer[5:8], "big")
            if len(self.buffer) < 8 + length:
                break
            head, payload = bytes(self.buffer[:8]), bytes(self.buffer[8 : 8 + length])
            del self.buffer[: 8 + length]
            first = int.from_bytes(head[:4], "big")
            if first & 0x80000000:
                kind = first & 0xFFFF
                stream_id = int.from_bytes(payload[:4], "big") & 0x7FFFFFFF if len(payload) >= 4 else 0
                self.frames.put_nowait(Frame(True, kind, stream_id, head[4], payload))
            else:
                self.frames.put_nowait(Frame(False, 0, first & 0x7FFFFFFF, head[4], payload))
        return False, b""

    def feed_eof(self) -> None:
        self.frames.put_nowait(None)


class SpdyClient:
    """The client side of a remote-command session over SPDY (the same calls as exec.WebSocketClient)."""

    def __init__(self, transport: Any, reader: FrameReader, kinds: list[str]) -> None:
        self.transport = transport
        self.reader = reader
        self.kinds = kinds
        self.streams: dict[str, int] = {}
        self._compressor = zlib.compressobj()
        self._resize = b""
        self._closed = False

    def _send(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(data)

    def _reply(self, stream_id: int) -> None:
        headers = self._compressor.compress(struct.pack(">I", 0)) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
        self._send(control_frame(SYN_REPLY, struct.pack(">I", stream_id) + headers))

    async def open_streams(self) -> None:
        """Accept the announced streams in the protocol's order; TimeoutError or ConnectionError otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STREAM_SETUP_SECONDS
        while len(self.streams) < len(self.kinds):
            frame = await asyncio.wait_for(self.reader.frames.get(), max(0.0, deadline - loop.time()))
            if frame is None:
                raise ConnectionError("the client went away while opening its streams")
            if not self._control(frame) and frame.control and frame.kind == SYN_STREAM:
                self.streams[self.kinds[len(self.streams)]] = frame.stream_id
                self._reply(frame.stream_id)

    def _control(self, frame: Frame) -> bool:
        """Handle PING and stray streams; True when the frame was consumed here."""
        if frame.control and frame.kind == PING:
            self._send(control_frame(PING, frame.payload[:4]))
            return True
        if frame.control and frame.kind == SYN_STREAM and len(self.streams) == len(self.kinds):
            self._send(control_frame(RST_STREAM, struct.pack(">II", frame.stream_id, REFUSED_STREAM)))
            return True
        return frame.control and frame.kind in (SETTINGS, WINDOW_UPDATE, HEADERS, RST_STREAM)

    async def next_event(self, timeout: float | None = None) -> tuple[str, Any] | None:
        while True:
            frame = await asyncio.wait_for(self.reader.frames.get(), timeout)
            if frame is None or (frame.control and frame.kind == GOAWAY):
                return None
            if self._control(frame) or frame.control:
                continue
            if frame.stream_id == self.streams.get("stdin"):
                if frame.payload:
                    if frame.flags & FLAG_FIN:
                        self.reader.frames.put_nowait(Frame(False, 0, frame.stream_id, FLAG_FIN, b""))
                    return "stdin", frame.payload
                if frame.flags & FLAG_FIN:
                    return "stdin-closed", None
            elif frame.stream_id == self.streams.get("resize"):
                size = self._size(frame.payload)
                if size is not None:
                    return "resize", size

    def _size(self, payload: bytes) -> tuple[int, int] | None:
        """The newest complete TerminalSize object of the resize stream (objects follow each other unframed)."""
        from shared.relay.kubelet.exec import parse_size

        self._resize += payload
        decoder, found, index = json.JSONDecoder(), None, 0
        text = self._resize.decode(errors="replace")
        while index < len(text):
            try:
                value, end = decoder.raw_decode(text, index)
            except ValueError:
                break
            found, index = value, end
            while index < len(text) and text[index].isspace():
                index += 1
        self._resize = text[index:].encode()
        return parse_size(json.dumps(found).encode()) if found is not None else None

    async def stdout(self, data: bytes) -> None:
        if "stdout" in self.streams:
            self._send(data_frame(self.streams["stdout"], data))

    async def status(self, error: str | None, reason: str = "InternalError") -> None:
        from shared.relay.kubelet.exec import status_body

        if "error" in self.streams:
            self._send(data_frame(self.streams["error"], status_body(error, reason), fin=True))
        await self.close()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for kind in ("stdout", "stderr"):
            if kind in self.streams:
                self._send(data_frame(self.streams[kind], b"", fin=True))
        last = max(self.streams.values(), default=0)
        self._send(control_frame(GOAWAY, struct.pack(">II", last, 0)))


def choose(offered: list[str]) -> str | None:
    versions = [v.strip() for value in offered for v in value.split(",") if v.strip()]
    return next((p for p in PROTOCOLS if p in versions), None)


def stream_kinds(options: Any) -> list[str]:
    kinds = ["error"]
    kinds += ["stdin"] if options.stdin else []
    kinds += ["stdout"] if options.stdout else []
    kinds += ["stderr"] if options.stderr and not options.tty else []
    kinds += ["resize"] if options.tty else []
    return kinds


async def accept_spdy(request: web.Request, options: Any, session: Session) -> web.StreamResponse:
    """Upgrade to SPDY/3.1, open the announced streams, run `session(client, options)`, then go away."""
    protocol = choose(request.headers.getall("X-Stream-Protocol-Version", []))
    if protocol is None:
        raise text_error(
            400,
            "SPDY remote command needs X-Stream-Protocol-Version v4.channel.k8s.io or v5.channel.k8s.io "
            "(older versions are not supported; WebSockets are)",
        )
    response = web.StreamResponse(
        status=101,
        headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": protocol},
    )
    response.force_close()
    await response.prepare(request)
    reader = FrameReader()
    request.protocol.set_parser(reader)  # type: ignore[arg-type]
    transport = request.transport
    assert transport is not None
    client = SpdyClient(transport, reader, stream_kinds(options))
    log.info("exec over SPDY/3.1 (%s), streams %s", protocol, ", ".join(client.kinds))
    try:
        await client.open_streams()
        await session(client, options)
    except (TimeoutError, ConnectionError) as error:  # no stream to report on: the client is gone or silent
        log.info("SPDY exec session ended early: %s", type(error).__name__)
    finally:
        await client.close()
        transport.close()
    return response
