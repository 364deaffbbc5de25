"""/exec and /attach over the WebSocket remote-command protocols, bridged to the ACI emulator's exec."""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any

import pytest

pytestmark = pytest.mark.fake_kube_only(
    "grants through the fake's TokenReview/SubjectAccessReview model (kube_api.reviews)"
)


def _context(kubelet: Any) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=kubelet.server.cert_file)
    context.load_cert_chain(*kubelet.cert)
    return context


def session(
    kubelet: Any,
    path: str,
    *,
    protocol: str = "v5.channel.k8s.io",
    send: list[bytes] | None = None,
) -> tuple[dict[int, bytes], str]:
    """Run one exec session: returns the bytes received per channel and the negotiated subprotocol."""
    import aiohttp

    async def run() -> tuple[dict[int, bytes], str]:
        received: dict[int, bytes] = {}
        async with (
            aiohttp.ClientSession() as client,
            client.ws_connect(
                kubelet.url + path,
                protocols=(protocol,),
                ssl=_context(kubelet),
                timeout=aiohttp.ClientWSTimeout(ws_close=10),
            ) as ws,
        ):
            for frame in send or []:
                await ws.send_bytes(frame)
            async for message in ws:
                if message.type == aiohttp.WSMsgType.BINARY and message.data:
                    received[message.data[0]] = received.get(message.data[0], b"") + message.data[1:]
            return received, ws.protocol or ""

    return asyncio.run(asyncio.wait_for(run(), 20))


def test_exec_echo_hi(kubelet: Any) -> None:
    kubelet.run_pod()
    received, protocol = session(kubelet, "/exec/default/web/nginx?command=echo&command=hi&output=1&error=1")
    assert protocol == "v5.channel.k8s.io"
    assert received[1] == b"hi\n"
    assert json.loads(received[3])["status"] == "Success"
    assert kubelet.arm.exec.commands == ["echo hi"]


def test_exec_with_stdin_gets_only_the_programs_output(kubelet: Any) -> None:
    kubelet.run_pod()
    frames = [b"\x00hello\n", b"\x00world\n", b"\xff\x00"]
    received, _ = session(kubelet, "/exec/default/web/nginx?command=cat&input=1&output=1&error=1", send=frames)
    assert received[1] == b"hello\nworld\n"
    assert json.loads(received[3])["status"] == "Success"


def test_v4_and_a_terminal_session(kubelet: Any) -> None:
    kubelet.run_pod()
    resize = b"\x04" + json.dumps({"Width": 120, "Height": 40}).encode()
    received, protocol = session(
        kubelet,
        "/exec/default/web/nginx?command=cat&command=/etc/hostname&output=1&tty=1",
        protocol="v4.channel.k8s.io",
        send=[resize],
    )
    assert protocol == "v4.channel.k8s.io"
    assert received[1].endswith(b"\r\n"), "a terminal session keeps the terminal's CRLF"
    [created] = kubelet.arm.exec.sessions.values()
    assert (created.rows, created.cols) == (40, 120)


def test_unrepresentable_argv_is_refused_before_anything_runs(kubelet: Any) -> None:
    kubelet.run_pod()
    received, _ = session(kubelet, "/exec/default/web/nginx?command=sh&command=-c&command=exit%203&output=1")
    status = json.loads(received[3])
    assert status["status"] == "Failure"
    assert "argument 2 ('exit 3')" in status["message"]
    assert kubelet.arm.counts["exec"] == 0 and not kubelet.arm.exec.commands


def test_attach_is_refused_with_the_reason(kubelet: Any) -> None:
    kubelet.run_pod()
    received, _ = session(kubelet, "/attach/default/web/nginx?output=1")
    assert "attach is not available on Azure Container Instances" in json.loads(received[3])["message"]


def spdy_session(kubelet: Any, path: str, kinds: list[str], send: dict[str, list[bytes]]) -> dict[str, bytes]:
    """A minimal SPDY/3.1 remote-command client: upgrade, open `kinds` in order, send, read until GOAWAY."""
    import socket
    import struct

    from shared.relay.kubelet.spdy import FLAG_FIN, GOAWAY, SYN_REPLY, SYN_STREAM, control_frame, data_frame

    raw = socket.create_connection(("127.0.0.1", kubelet.server.ports["aci-connector-linux"]), timeout=20)
    conn = _context(kubelet).wrap_socket(raw, server_hostname="127.0.0.1")
    conn.sendall(
        (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
            "X-Stream-Protocol-Version: v4.channel.k8s.io\r\nContent-Length: 0\r\n\r\n"
        ).encode()
    )
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        buffer += conn.recv(65536)
    head, buffer = buffer.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101"), head
    assert b"X-Stream-Protocol-Version: v4.channel.k8s.io" in head
    ids = {kind: 1 + 2 * index for index, kind in enumerate(kinds)}
    for kind in kinds:  # header blocks are not read by the server: any bytes do
        conn.sendall(control_frame(SYN_STREAM, struct.pack(">IIH", ids[kind], 0, 0) + b"headers"))
    for kind, frames in send.items():
        for index, data in enumerate(frames):
            conn.sendall(data_frame(ids[kind], data, fin=index == len(frames) - 1 and kind == "stdin"))
    received: dict[str, bytes] = {}
    replies: list[int] = []
    names = {v: k for k, v in ids.items()}
    while True:
        while len(buffer) < 8 or len(buffer) < 8 + int.from_bytes(buffer[5:8], "big"):
            chunk = conn.recv(65536)
            if not chunk:
                conn.close()
                return received
            buffer += chunk
        length = int.from_bytes(buffer[5:8], "big")
        first, flags, payload = int.from_bytes(buffer[:4], "big"), buffer[4], buffer[8 : 8 + length]
        buffer = buffer[8 + length :]
        if first & 0x80000000:
            kind = first & 0xFFFF
            if kind == SYN_REPLY:
                replies.append(int.from_bytes(payload[:4], "big"))
            if kind == GOAWAY:
                assert sorted(replies) == sorted(ids.values()), "every stream was acknowledged"
                conn.close()
                return received
        else:
            name = names[first]
            received[name] = received.get(name, b"") + payload
            if flags & FLAG_FIN:
                received[name + "-fin"] = b""


def test_exec_over_spdy_as_translating_apiservers_send_it(kubelet: Any) -> None:
    kubelet.run_pod()
    out = spdy_session(
        kubelet, "/exec/default/web/nginx?command=echo&command=hi&output=1&error=1", ["error", "stdout", "stderr"], {}
    )
    assert out["stdout"] == b"hi\n" and "stdout-fin" in out and "error-fin" in out
    assert json.loads(out["error"])["status"] == "Success"
    cat = spdy_session(
        kubelet,
        "/exec/default/web/nginx?command=cat&input=1&output=1&error=1",
        ["error", "stdin", "stdout", "stderr"],
        {"stdin": [b"hello\n", b"world\n"]},
    )
    assert cat["stdout"] == b"hello\nworld\n"
    refused = spdy_session(
        kubelet, "/exec/default/web/nginx?command=sh&command=-c&command=exit%203&output=1", ["error", "stdout"], {}
    )
    assert "argument 2" in json.loads(refused["error"])["message"]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Connection": "Upgrade", "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": "v2.channel.k8s.io"}, "v4"),
        ({}, "expected a WebSocket or SPDY/3.1 upgrade"),
    ],
)
def test_unsupported_spdy_versions_and_plain_requests_get_a_clear_400(
    kubelet: Any, headers: dict[str, str], expected: str
) -> None:
    import requests

    kubelet.run_pod()
    answer = requests.post(
        kubelet.url + "/exec/default/web/nginx?command=echo&output=1",
        headers=headers,
        cert=kubelet.cert,
        verify=kubelet.server.cert_file,
        timeout=10,
    )
    assert answer.status_code == 400 and expected in answer.text
