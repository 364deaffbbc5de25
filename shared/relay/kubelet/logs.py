"""Container logs as a kubelet serves them, computed from what ACI's logs API returns (pure).

ACI returns a container's whole log (about the last 4 MB) as one text, optionally cut to
the last `tail` lines and optionally with a timestamp at the start of every line. It has no
`since`, no byte limit and no streaming. So the connector always asks for timestamps and
does the kubelet's filtering itself: `sinceTime`/`sinceSeconds` first, then `tailLines`,
then `limitBytes`, and strips the timestamps unless the client asked for them. `follow`
is a poll loop: `LogCursor` remembers the last line it emitted (by timestamp, and how many
lines shared that timestamp), so each poll yields only lines not seen before.

The kubelet endpoint (shared.relay.kubelet.server) and `python -m shared.cli logs` both
use this module, so they filter and follow identically.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

FOLLOW_TAIL = 5000
"""Lines asked of ACI on each follow poll: more new lines than this between two polls are not all shown."""

PREVIOUS_UNSUPPORTED = (
    "previous terminated container logs are not available: Azure Container Instances keeps only the "
    "current instance's logs (a restarted container's earlier output is gone)"
)

_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2}) ?")


class LogOptionsError(ValueError):
    """A bad query parameter; the message names it (answered as 400 Bad Request)."""


@dataclass(frozen=True)
class LogOptions:
    """PodLogOptions as the kubelet accepts them on /containerLogs (validated like the apiserver does)."""

    tail_lines: int | None = None
    timestamps: bool = False
    since_seconds: int | None = None
    since_time: datetime | None = None
    limit_bytes: int | None = None
    follow: bool = False
    previous: bool = False

    def since(self, now: datetime) -> datetime | None:
        """The moment before which lines are dropped, if any."""
        if self.since_time is not None:
            return self.since_time
        if self.since_seconds is not None:
            return now - timedelta(seconds=self.since_seconds)
        return None


def _bool(query: Mapping[str, str], name: str) -> bool:
    value = query.get(name)
    if value is None or value == "":
        return False
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise LogOptionsError(f"{name}: invalid boolean {value!r}")


def _int(query: Mapping[str, str], name: str, minimum: int) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise LogOptionsError(f"{name}: invalid integer {value!r}") from None
    if number < minimum:
        raise LogOptionsError(f"{name}: must be greater than or equal to {minimum}, got {number}")
    return number


def parse_log_options(query: Mapping[str, str]) -> LogOptions:
    """Query parameters of GET /containerLogs -> LogOptions, raising LogOptionsError naming the parameter."""
    since_time = None
    if query.get("sinceTime"):
        since_time = parse_stamp(query["sinceTime"])
        if since_time is None:
            raise LogOptionsError(f"sinceTime: not an RFC 3339 time: {query['sinceTime']!r}")
    options = LogOptions(
        tail_lines=_int(query, "tailLines", 0),
        timestamps=_bool(query, "timestamps"),
        since_seconds=_int(query, "sinceSeconds", 1),
        since_time=since_time,
        limit_bytes=_int(query, "limitBytes", 1),
        follow=_bool(query, "follow"),
        previous=_bool(query, "previous"),
    )
    if options.since_seconds is not None and options.since_time is not None:
        raise LogOptionsError("sinceSeconds, sinceTime: at most one of sinceTime or sinceSeconds may be specified")
    return options


def parse_stamp(text: str) -> datetime | None:
    """An RFC 3339 time with any number of fraction digits (Python keeps microseconds)."""
    match = _STAMP.match(text.strip() + " ")
    if match is None:
        return None
    fraction = (match.group(2) or "")[:7].ljust(7, "0") if match.group(2) else ""
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    try:
        return datetime.fromisoformat(f"{match.group(1)}{fraction}{zone}").astimezone(UTC)
    except ValueError:
        return None


def format_stamp(moment: datetime) -> str:
    """RFC 3339 with nanoseconds, as the kubelet prefixes lines with timestamps=true."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


@dataclass(frozen=True)
class Line:
    """One log line: its timestamp when ACI gave one, and its text including the newline."""

    stamp: datetime | None
    text: str

    def render(self, timestamps: bool) -> str:
        if timestamps and self.stamp is not None:
            return f"{format_stamp(self.stamp)} {self.text}"
        return self.text


def split_lines(content: str) -> list[Line]:
    """ACI's log text (asked with timestamps=true) as Lines; a line without a readable stamp keeps None."""
    lines: list[Line] = []
    for raw in content.splitlines(keepends=True):
        match = _STAMP.match(raw)
        stamp = parse_stamp(raw[: match.end()]) if match else None
        text = raw[match.end() :] if match and stamp is not None else raw
        if not text.endswith("\n"):
            text += "\n"
        lines.append(Line(stamp, text))
    return lines


def select(lines: list[Line], options: LogOptions, now: datetime) -> list[Line]:
    """The kubelet's order: since first, then the last tailLines of what is left."""
    since = options.since(now)
    if since is not None:
        lines = [line for line in lines if line.stamp is None or line.stamp >= since]
    if options.tail_lines is not None:
        lines = lines[-options.tail_lines :] if options.tail_lines else []
    return lines


@dataclass
class ByteLimit:
    """limitBytes across a whole answer (including every follow chunk): the cut may fall inside a line."""

    remaining: int | None

    def take(self, text: str) -> str:
        if self.remaining is None:
            return text
        data = text.encode()[: self.remaining]
        self.remaining -= len(data)
        return data.decode(errors="ignore")

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0


@dataclass
class LogCursor:
    """Where a follower is: the newest timestamp emitted and how many lines carried it, or the untimed tail."""

    last: datetime | None = None
    at_last: int = 0
    seen_untimed: list[str] = field(default_factory=list)

    def mark(self, lines: list[Line]) -> None:
        """Remember `lines` (the batch just emitted) as seen."""
        for line in lines:
            if line.stamp is None:
                self.seen_untimed = ([*self.seen_untimed, line.text])[-50:]
            elif self.last is None or line.stamp > self.last:
                self.last, self.at_last = line.stamp, 1
            elif line.stamp == self.last:
                self.at_last += 1

    def fresh(self, lines: list[Line]) -> list[Line]:
        """The lines of a new poll not emitted yet; marks them seen."""
        out: list[Line] = []
        same = 0
        untimed = [line for line in lines if line.stamp is None]
        if untimed and len(untimed) == len(lines):
            out = _after_overlap(self.seen_untimed, lines)
        else:
            for line in lines:
                if line.stamp is None or self.last is None or line.stamp > self.last:
                    out.append(line)
                elif line.stamp == self.last:
                    same += 1
                    if same > self.at_last:
                        out.append(line)
        self.mark(out)
        return out


def _after_overlap(seen: list[str], lines: list[Line]) -> list[Line]:
    """Without timestamps: the lines after the longest overlap of what was seen last with the new text."""
    texts = [line.text for line in lines]
    for size in range(min(len(seen), len(texts)), 0, -1):
        tail = seen[-size:]
        for start in range(len(texts) - size, -1, -1):
            if texts[start : start + size] == tail:
                return lines[start + size :]
    return lines
