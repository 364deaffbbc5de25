"""ACI's exec: POST .../containers/{name}/exec, then a terminal session over a WebSocket with a password.

What the service does (the recording in tests/fixtures/aci-responses/py-exec-200.json, the
azure-cli exec client and the REST spec 2023-05-01):

- the request body is `{"command": "<one string>", "terminalSize": {"rows", "cols"}}` and the
  answer `{"webSocketUri", "password"}`; the POST counts as an ARM write;
- the client's first WebSocket message is the password; after it, client messages are the
  terminal's input and server messages its output; the socket closes when the process ends;
- the command string is split at whitespace into argv: no quoting, no shell;
- it is always a terminal (a pty): output lines end in CRLF, input is echoed back (the
  canonical-mode line discipline), Ctrl-D at the start of a line is end of input, there is
  no separate stderr and no exit code.

The emulator runs a small set of programs with those terminal rules: `echo`, `printf`,
`sleep`, `true`, `false` as the container's own commands are interpreted (emulator.program,
sleeps end at once), `cat FILE` (/etc/hostname, /etc/os-release), `cat` (copies its input),
`hostname`, `env`, and `sh`/`bash` (a prompt that runs the others, `exit` ends it). Anything
else prints the container runtime's "executable file not found" line and ends.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from emulator.program import compile_command, run_once

EOF_CHAR = "\x04"
OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'
BRIDGE_API_VERSION = "2018-02-01-preview"


@dataclass
class ExecSession:
    group: str
    container: str
    command: str
    rows: int
    cols: int
    password: str = field(default_factory=lambda: secrets.token_urlsafe(32) + "[[EOM]]")
    used: bool = False
    environment: dict[str, str] = field(default_factory=dict)


class ExecError(ValueError):
    """The exec request body is wrong; the message names the field (answered as ARM's 400)."""


def parse_request(body: Any) -> tuple[str, int, int]:
    if not isinstance(body, dict):
        raise ExecError("The request content was invalid and could not be deserialized.")
    command = body.get("command")
    if not isinstance(command, str) or not command.strip():
        raise ExecError("The exec request must specify a non-empty 'command'.")
    size = body.get("terminalSize") or {}
    rows, cols = size.get("rows", 24), size.get("cols", 80)
    if not isinstance(rows, int) or not isinstance(cols, int) or rows <= 0 or cols <= 0:
        raise ExecError("The 'terminalSize' rows and cols must be positive integers.")
    return command, rows, cols


class Terminal:
    """The pty between the WebSocket and a canned program: CRLF output, echoed input, line-buffered reads."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._partial = ""

    async def write(self, text: str) -> None:
        await self.ws.send_str(text.replace("\r\n", "\n").replace("\n", "\r\n"))

    async def feed(self, data: str) -> None:
        """Input from the client: echoed as a pty does, handed to the program a line at a time."""
        for char in data:
            if char == EOF_CHAR:
                if self._partial:
                    self.lines.put_nowait(self._partial)
                    self._partial = ""
                else:
                    self.lines.put_nowait(None)
                continue
            await self.write("\n" if char in "\r\n" else char)
            if char in "\r\n":
                self.lines.put_nowait(self._partial + "\n")
                self._partial = ""
            else:
                self._partial += char

    async def readline(self) -> str | None:
        """A line with its newline, or None at end of input."""
        return await self.lines.get()


Program = Callable[[list[str], Terminal, ExecSession], Awaitable[bool]]


async def _interpreted(argv: list[str], term: Terminal, session: ExecSession) -> bool:
    """echo, printf, sleep, true, false: what a container's own command does (emulator.program), run to its end."""
    steps = compile_command(argv, "", dict(session.environment))
    run = run_once(steps, 0.0, 1e9)
    texts = [text for _moment, text in run.lines]
    unterminated = bool(steps) and steps[-1].kind == "out" and not steps[-1].text.endswith("\n")
    output = "\n".join(texts) + ("" if unterminated or not texts else "\n")
    if output:
        await term.write(output)
    return run.exit_code == 0


async def _cat(argv: list[str], term: Terminal, session: ExecSession) -> bool:
    files = {"/etc/hostname": session.group + "\n", "/etc/os-release": OS_RELEASE}
    if len(argv) == 1:
        while (line := await term.readline()) is not None:
            await term.write(line)
        return True
    for path in argv[1:]:
        if path not in files:
            await term.write(f"cat: {path}: No such file or directory\n")
            return False
        await term.write(files[path])
    return True


async def _hostname(argv: list[str], term: Terminal, session: ExecSession) -> bool:
    await term.write(session.group + "\n")
    return True


async def _env(argv: list[str], term: Terminal, session: ExecSession) -> bool:
    await term.write("".join(f"{k}={v}\n" for k, v in {"HOSTNAME": session.group, **session.environment}.items()))
    return True


async def _shell(argv: list[str], term: Terminal, session: ExecSession) -> bool:
    while True:
        await term.write("# ")
        line = await term.readline()
        if line is None:
            return True
        words = line.split()
        if not words:
            continue
        if words[0] == "exit":
            return True
        await run(words, term, session, nested=True)


PROGRAMS: dict[str, Program] = {
    "echo": _interpreted,
    "printf": _interpreted,
    "sleep": _interpreted,
    "true": _interpreted,
    "false": _interpreted,
    "cat": _cat,
    "hostname": _hostname,
    "env": _env,
    "sh": _shell,
    "bash": _shell,
}


async def run(argv: list[str], term: Terminal, session: ExecSession, *, nested: bool = False) -> bool:
    program = PROGRAMS.get(argv[0].rsplit("/", 1)[-1])
    if program is None or (nested and program is _shell):
        await term.write(
            "OCI runtime exec failed: exec failed: unable to start container process: exec: "
            f'"{argv[0]}": executable file not found in $PATH: unknown\n'
        )
        return False
    return await program(argv, term, session)


class ExecBridge:
    """The sessions handed out by POST .../exec, and the WebSocket endpoint that runs them (one use each)."""

    def __init__(self) -> None:
        self.sessions: dict[str, ExecSession] = {}
        self.commands: list[str] = []
        """Every command string a session ran (tests check what the connector sent)."""

    def create(self, group: str, container: str, body: Any, base_url: str) -> dict[str, str]:
        command, rows, cols = parse_request(body)
        session = ExecSession(group, container, command, rows, cols)
        token = uuid.uuid4().hex[:16]
        self.sessions[token] = session
        ws_base = base_url.replace("https://", "wss://").replace("http://", "ws://")
        query = f"rows={rows}&cols={cols}&api-version={BRIDGE_API_VERSION}"
        uri = f"{ws_base}/exec/caas-{uuid.uuid4().hex}/bridge-{token}?{query}"
        return {"webSocketUri": uri, "password": session.password}

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        token = request.path.rsplit("/bridge-", 1)[-1]
        session = self.sessions.get(token)
        if session is None or session.used:
            return web.Response(status=404, text="session not found or already used")
        session.used = True
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        first = await ws.receive(timeout=30)
        if first.type not in (WSMsgType.TEXT, WSMsgType.BINARY) or _text(first.data) != session.password:
            await ws.close(code=1008, message=b"authentication failed")
            return ws
        self.commands.append(session.command)
        term = Terminal(ws)
        program = asyncio.ensure_future(run(session.command.split(), term, session))
        reader = asyncio.ensure_future(_read_input(ws, term))
        await asyncio.wait({program, reader}, return_when=asyncio.FIRST_COMPLETED)
        reader.cancel()
        if not program.done():
            program.cancel()
        await ws.close()
        return ws


async def _read_input(ws: web.WebSocketResponse, term: Terminal) -> None:
    async for message in ws:
        if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
            await term.feed(_text(message.data))
    term.lines.put_nowait(None)


def _text(data: Any) -> str:
    return data.decode(errors="replace") if isinstance(data, bytes) else str(data)
