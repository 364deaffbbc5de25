"""What an emulated container "runs": its command turned into timed output lines and an exit code.

No process runs. A container's command (ACI `command`, i.e. the pod's command + args)
is read as a tiny program: `echo`/`printf` print, `sleep N` waits N clock seconds,
`exit N` ends with code N, `true`/`false` set the status, and `sh -c` / `bash -c` /
`cmd /c` scripts chain those with `;`, `&&`, `||` and newlines, including
`while true; do ...; done` and `for x in a b; do ...; done` loops. An image with no
command runs its default program from `emulator.images`. Anything else prints one line
saying it is emulated and runs until deleted. Everything is a pure function of the
start time and the clock, so a test that steps a `ManualClock` sees exact states.
"""

from __future__ import annotations

import contextlib
import math
import re
import shlex
from dataclasses import dataclass, field

MAX_LINES = 1000
"""Log lines kept per run (ACI keeps a bounded tail too); long loops skip ahead."""
SHELLS = {"sh", "bash", "ash", "dash", "zsh", "busybox"}
FOREVER_COMMANDS = (("sleep", "infinity"), ("tail", "-f"), ("cat",))


@dataclass(frozen=True)
class Step:
    """One instruction: out (a line), sleep (seconds), exit (code), status (code), forever, loop."""

    kind: str
    text: str = ""
    seconds: float = 0.0
    code: int = 0
    body: tuple[Step, ...] = ()
    times: int | None = None  # loop count; None loops forever


@dataclass
class Run:
    """One start of a container: when, its output lines (time, text) and how it ended (None: running)."""

    start: float
    lines: list[tuple[float, str]] = field(default_factory=list)
    end: float | None = None
    exit_code: int | None = None


@dataclass
class Life:
    """A container's runs up to now under its restart policy."""

    current: Run
    previous: Run | None
    restart_count: int
    waiting_until: float | None  # in restart back-off until then
    starts: list[float]


def emulated_line(what: str) -> str:
    return f"[aci-emulator] {what} is emulated: no real process runs; the container runs until deleted"


MAX_SCRIPT = 64 * 1024
"""A longer command is not interpreted (it is still accepted: ACI takes what fits in the group's size limit)."""


def compile_command(command: list[str] | None, image: str, env: dict[str, str] | None = None) -> tuple[Step, ...]:
    """The program of a container: its command interpreted, else the image's default.

    Never raises: a command too long or too deeply nested to interpret runs as an emulated process,
    so a hostile pod spec cannot break the group's GET or logs.
    """
    if command and sum(len(part) for part in command) <= MAX_SCRIPT:
        try:
            return _compile(command, image, dict(env or {}))
        except (RecursionError, ValueError, IndexError):
            pass
    elif not command:
        return _compile(command, image, {})
    return (Step("out", emulated_line(shlex.join(command)[:200]) + "\n"), Step("forever"))


def _compile(command: list[str] | None, image: str, env: dict[str, str]) -> tuple[Step, ...]:
    from emulator.images import default_program

    if not command:
        return default_program(image)
    head = command[0].rsplit("/", 1)[-1].lower()
    if head in SHELLS and len(command) >= 3 and command[1] in ("-c", "-ec", "-xc", "-ce"):
        return _script(command[2], env)
    if head in SHELLS and len(command) >= 4 and command[1] == "sh" and command[2] == "-c":  # busybox sh -c
        return _script(command[3], env)
    if head in ("cmd", "cmd.exe") and len(command) >= 3 and command[1].lower() in ("/c", "/s"):
        return _script(" ".join(command[2:]).replace("&", ";"), env)
    if head in ("powershell", "pwsh", "powershell.exe") and "-command" in [c.lower() for c in command]:
        at = [c.lower() for c in command].index("-command")
        return _script(_powershell(" ".join(command[at + 1 :])), env)
    return _statement([head, *command[1:]], env) or (
        Step("out", emulated_line(shlex.join(command)) + "\n"),
        Step("forever"),
    )


def _powershell(script: str) -> str:
    """Write-Host / Write-Output / Start-Sleep [-Seconds] N, the PowerShell a Windows pod spec uses."""
    script = re.sub(r"(?i)\b(write-host|write-output)\b", "echo", script)
    return re.sub(r"(?i)\bstart-sleep\s+(-seconds\s+|-s\s+)?", "sleep ", script)


_REDIRECTION = re.compile(r"(?:(?<=\s)|^)(?:\d*>>?(?:&\d+|\s*[^\s;&|]+)|<\s*[^\s;&|]+)")


def _tokens(script: str) -> list[str]:
    script = _REDIRECTION.sub(" ", script)  # output goes to the log either way
    lexer = shlex.shlex(script.replace("\n", " ; "), posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError:  # unbalanced quotes: treat as one unknown statement
        return [script]


def _script(script: str, env: dict[str, str]) -> tuple[Step, ...]:
    steps, _ = _block(_tokens(script), 0, env, stop=())
    return tuple(steps)


def _block(tokens: list[str], i: int, env: dict[str, str], stop: tuple[str, ...]) -> tuple[list[Step], int]:
    """Statements until one of `stop` (a keyword) or the end; returns steps and the index after them."""
    steps: list[Step] = []
    words: list[str] = []

    def flush() -> None:
        if words:
            interpreted = _statement(list(words), env)
            steps.extend(_unknown(words) if interpreted is None else interpreted)
            words.clear()

    while i < len(tokens):
        token = tokens[i]
        if not words and token in stop:
            return steps, i
        if token in (";", "&&", "||", "&", "|"):
            flush()
            i += 1
            continue
        if not words and token in ("while", "until"):
            loop, i = _while(tokens, i + 1, env)
            steps.append(loop)
            continue
        if not words and token == "for":
            loop, i = _for(tokens, i + 1, env)
            steps.append(loop)
            continue
        words.append(token)
        i += 1
    flush()
    return steps, i


def _while(tokens: list[str], i: int, env: dict[str, str]) -> tuple[Step, int]:
    condition, i = _block(tokens, i, env, stop=("do",))
    body, i = _block(tokens, i + 1, env, stop=("done",))
    forever = all(step.kind == "status" and step.code == 0 for step in condition)
    return Step("loop", body=tuple(body), times=None if forever else 0), i + 1


def _for(tokens: list[str], i: int, env: dict[str, str]) -> tuple[Step, int]:
    var = tokens[i] if i < len(tokens) else "_"
    values: list[str] = []
    i += 1
    if i < len(tokens) and tokens[i] == "in":
        i += 1
        while i < len(tokens) and tokens[i] not in (";", "do"):
            values.append(tokens[i])
            i += 1
    while i < len(tokens) and tokens[i] in (";",):
        i += 1
    start = i + 1 if i < len(tokens) and tokens[i] == "do" else i
    body_tokens_end = _matching_done(tokens, start)
    steps: list[Step] = []
    for value in values:
        body, _ = _block(tokens[start:body_tokens_end], 0, {**env, var: value}, stop=())
        steps.extend(body)
    return Step("loop", body=tuple(steps), times=1), body_tokens_end + 1


def _matching_done(tokens: list[str], i: int) -> int:
    depth = 0
    while i < len(tokens):
        if tokens[i] == "do":
            depth += 1
        elif tokens[i] == "done":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return i


def _expand(word: str, env: dict[str, str]) -> str:
    return re.sub(
        r"\$\{(\w+)\}|\$(\w+)|%(\w+)%", lambda m: env.get(m.group(1) or m.group(2) or m.group(3) or "", ""), word
    )


def _statement(words: list[str], env: dict[str, str]) -> tuple[Step, ...] | None:
    """The steps of one simple command, or None when it is not one the emulator interprets."""
    while words and re.fullmatch(r"\w+=.*", words[0]):  # VAR=value prefixes set the environment
        name, _, value = words.pop(0).partition("=")
        env[name] = _expand(value, env)
    if not words:
        return ()
    head, args = words[0].rsplit("/", 1)[-1].lower(), [_expand(w, env) for w in words[1:]]
    if head == "exec" and args:
        return _statement(words[1:], env)
    if head == "echo":
        newline = True
        while args and args[0] in ("-n", "-e", "-ne", "-en"):
            newline = newline and "n" not in args.pop(0)
        text = " ".join(args)
        return (Step("out", text + ("\n" if newline else "")),)
    if head == "printf" and args:
        text = args[0].replace("\\n", "\n").replace("\\t", "\t")
        for value in args[1:]:
            text = re.sub(r"%[sd]", value.replace("\\", "\\\\"), text, count=1)
        return (Step("out", text),)
    if head == "sleep":
        if not args or args[0] == "infinity":
            return (Step("forever"),)
        return (Step("sleep", seconds=_duration(args[0])),)
    if head in ("exit", "return"):
        return (Step("exit", code=_exit_code(args[0] if args else "0")),)
    if head in ("true", ":"):
        return (Step("status", code=0),)
    if head == "false":
        return (Step("status", code=1),)
    if (head, *args[:1]) in FOREVER_COMMANDS or (head == "tail" and "-f" in args):
        return (Step("forever"),)
    return None


def _unknown(words: list[str]) -> tuple[Step, ...]:
    return (Step("out", emulated_line(" ".join(words)) + "\n"), Step("forever"))


def _duration(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", text.strip())
    if not match:
        return 0.0
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


def _exit_code(text: str) -> int:
    try:
        return int(text) & 255
    except ValueError:
        return 2


# --------------------------------------------------------------------------- running


class _Stop(Exception):
    """The run reached `now` (still running) or ended."""


@dataclass
class _Machine:
    now: float
    t: float
    lines: list[tuple[float, str]] = field(default_factory=list)
    partial: str = ""
    status: int = 0
    exit_code: int | None = None
    running: bool = False

    def out(self, text: str) -> None:
        self.partial += text
        *complete, self.partial = self.partial.split("\n")
        self.lines.extend((self.t, line) for line in complete)
        if len(self.lines) > MAX_LINES:
            del self.lines[: len(self.lines) - MAX_LINES]

    def run(self, steps: tuple[Step, ...]) -> None:
        for step in steps:
            self.step(step)

    def step(self, step: Step) -> None:
        if step.kind == "out":
            self.out(step.text)
            self.status = 0
        elif step.kind == "status":
            self.status = step.code
        elif step.kind == "sleep":
            if self.t + step.seconds > self.now:
                self.running = True
                raise _Stop
            self.t += step.seconds
        elif step.kind == "exit":
            self.exit_code = step.code
            raise _Stop
        elif step.kind == "forever":
            self.running = True
            raise _Stop
        elif step.kind == "loop":
            self.loop(step)

    def loop(self, step: Step) -> None:
        if step.times is not None:
            for _ in range(step.times):
                self.run(step.body)
            return
        duration = _body_duration(step.body)
        if duration is None:  # the body ends the run by itself
            self.run(step.body)
            return
        if duration <= 0:  # a busy loop: its output once, then it spins until deleted
            self.run(step.body)
            self.running = True
            raise _Stop
        rounds = math.floor((self.now - self.t) / duration)
        skip = max(0, rounds - MAX_LINES)
        self.t += skip * duration
        while True:
            self.run(step.body)


def _body_duration(body: tuple[Step, ...]) -> float | None:
    total = 0.0
    for step in body:
        if step.kind in ("exit", "forever") or (step.kind == "loop" and step.times is None):
            return None
        if step.kind == "sleep":
            total += step.seconds
        if step.kind == "loop":
            inner = _body_duration(step.body)
            if inner is None:
                return None
            total += inner * (step.times or 0)
    return total


def run_once(program: tuple[Step, ...], start: float, now: float) -> Run:
    """The run started at `start`, as it stands at `now`."""
    machine = _Machine(now=now, t=start)
    with contextlib.suppress(_Stop):
        machine.run(program)
    if machine.partial:
        machine.lines.append((machine.t, machine.partial))
    run = Run(start=start, lines=machine.lines)
    if not machine.running:
        run.end = machine.t
        run.exit_code = machine.exit_code if machine.exit_code is not None else machine.status
    return run


def restart_delay(restarts: int, base: float, cap: float) -> float:
    """Back-off before restart number `restarts` (1-based): base, 2x, 4x ... capped, as the kubelet does."""
    return min(cap, base * 2 ** min(restarts - 1, 30))


def live(
    program: tuple[Step, ...], start: float, now: float, policy: str, *, backoff: float, backoff_cap: float
) -> Life:
    """Runs and restarts per restartPolicy (Always, OnFailure, Never) from `start` until `now`."""
    previous: Run | None = None
    restarts = 0
    starts = [start]
    for _ in range(100_000):
        current = run_once(program, start, now)
        if current.end is None:
            return Life(current, previous, restarts, None, starts)
        restart = policy == "Always" or (policy == "OnFailure" and current.exit_code != 0)
        if not restart:
            return Life(current, previous, restarts, None, starts)
        next_start = current.end + restart_delay(restarts + 1, backoff, backoff_cap)
        if next_start > now:
            return Life(current, previous, restarts, next_start, starts)
        previous, start, restarts = current, next_start, restarts + 1
        starts.append(start)
    raise RuntimeError("container restarted too often to emulate")
