"""The kubelet API's pure parts: log options and filtering, the follow cursor, exec argv and framing, authz mapping."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.relay.kubelet.auth import request_attributes
from shared.relay.kubelet.exec import EchoFilter, aci_command, choose_protocol, status_frame, stream_options
from shared.relay.kubelet.logs import (
    ByteLimit,
    Line,
    LogCursor,
    LogOptions,
    LogOptionsError,
    parse_log_options,
    parse_stamp,
    select,
    split_lines,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _stamped(*items: tuple[int, str]) -> str:
    return "".join(f"{(T0 + timedelta(seconds=s)).strftime('%Y-%m-%dT%H:%M:%S.%f')}123Z {text}\n" for s, text in items)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"tailLines": "x"}, "tailLines"),
        ({"tailLines": "-1"}, "tailLines"),
        ({"sinceSeconds": "0"}, "sinceSeconds"),
        ({"limitBytes": "0"}, "limitBytes"),
        ({"sinceTime": "yesterday"}, "sinceTime"),
        ({"follow": "maybe"}, "follow"),
    ],
)
def test_bad_options_name_the_parameter(query: dict[str, str], field: str) -> None:
    with pytest.raises(LogOptionsError, match=field):
        parse_log_options(query)


def test_options_parse_like_the_apiserver_sends_them() -> None:
    options = parse_log_options({"tailLines": "0", "timestamps": "true", "sinceTime": "2026-01-01T00:00:05Z"})
    assert options.tail_lines == 0 and options.timestamps
    assert options.since_time == T0 + timedelta(seconds=5)
    assert parse_stamp("2026-01-01T00:00:05.123456789+02:00") == T0 + timedelta(
        hours=-2, seconds=5, microseconds=123456
    )


def test_since_then_tail_then_bytes() -> None:
    lines = split_lines(_stamped((1, "a"), (2, "b"), (3, "c"), (4, "d")))
    since = LogOptions(since_time=T0 + timedelta(seconds=2), tail_lines=2)
    assert [line.text for line in select(lines, since, T0)] == ["c\n", "d\n"]
    assert [line.text for line in select(lines, LogOptions(since_seconds=2), T0 + timedelta(seconds=4))] == [
        "b\n",
        "c\n",
        "d\n",
    ]
    limit = ByteLimit(3)
    assert limit.take("ab\ncd\n") == "ab\n" and limit.exhausted and limit.take("more") == ""


def test_timestamps_render_with_nanoseconds_and_untimed_lines_pass_through() -> None:
    [stamped, plain] = split_lines(_stamped((1, "a")) + "no stamp\n")
    assert stamped.render(True) == "2026-01-01T00:00:01.000000000Z a\n"
    assert plain == Line(None, "no stamp\n") and plain.render(True) == "no stamp\n"


def test_cursor_emits_each_line_once_even_with_equal_timestamps() -> None:
    cursor = LogCursor()
    cursor.mark(split_lines(_stamped((1, "a"), (2, "b"), (2, "c"))))
    assert cursor.fresh(split_lines(_stamped((1, "a"), (2, "b"), (2, "c")))) == []
    fresh = cursor.fresh(split_lines(_stamped((2, "b"), (2, "c"), (2, "d"), (3, "e"))))
    assert [line.text for line in fresh] == ["d\n", "e\n"]


def test_cursor_without_timestamps_uses_the_overlap() -> None:
    cursor = LogCursor()
    cursor.mark(split_lines("a\nb\n"))
    assert [line.text for line in cursor.fresh(split_lines("a\nb\nc\n"))] == ["c\n"]
    assert [line.text for line in cursor.fresh(split_lines("b\nc\nd\ne\n"))] == ["d\n", "e\n"]


@pytest.mark.parametrize(
    ("argv", "bad"),
    [
        (("sh", "-c", "exit 3"), "argument 2"),
        (("echo", ""), "argument 1"),
        (("echo", "it's"), "argument 1"),
        ((), "no"),
    ],
)
def test_argv_that_aci_would_change_is_refused(argv: tuple[str, ...], bad: str) -> None:
    with pytest.raises(ValueError, match=bad):
        aci_command(argv)


def test_faithful_argv_is_joined() -> None:
    assert aci_command(("ls", "-la", "/tmp")) == "ls -la /tmp"


def test_protocol_choice_and_status_frames() -> None:
    assert choose_protocol("v4.channel.k8s.io, v5.channel.k8s.io") == "v5.channel.k8s.io"
    assert choose_protocol("channel.k8s.io") == "channel.k8s.io"
    assert choose_protocol("") == ""
    assert choose_protocol("base64.channel.k8s.io") is None
    assert json.loads(status_frame("v4.channel.k8s.io", None)[1:]) == {"metadata": {}, "status": "Success"}
    failure = json.loads(status_frame("v5.channel.k8s.io", "no", "BadRequest")[1:])
    assert (failure["status"], failure["reason"], failure["message"]) == ("Failure", "BadRequest", "no")
    assert status_frame("channel.k8s.io", "plain text") == b"\x03plain text"


def test_echo_filter_drops_only_the_terminals_echo() -> None:
    echo = EchoFilter()
    echo.sent("hi\n\x04")
    assert echo.output("hi\r\n") == ""
    assert echo.output("hi\r\n") == "hi\r\n"


def test_stream_options_read_both_spellings() -> None:
    from multidict import MultiDict

    options = stream_options(MultiDict([("command", "echo"), ("command", "x"), ("input", "1"), ("stdout", "true")]))
    assert (options.command, options.stdin, options.stdout, options.stderr, options.tty) == (
        ("echo", "x"),
        True,
        True,
        False,
        False,
    )


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/stats/summary", ("get", "stats")),
        ("GET", "/metrics/resource", ("get", "metrics")),
        ("GET", "/logs/messages", ("get", "log")),
        ("GET", "/containerLogs/a/b/c", ("get", "proxy")),
        ("POST", "/exec/a/b/c", ("create", "proxy")),
        ("GET", "/statsfoo", ("get", "proxy")),
    ],
)
def test_kubelet_authorization_mapping(method: str, path: str, expected: tuple[str, str]) -> None:
    assert request_attributes(method, path) == expected


def test_spdy_frames_are_parsed_across_arbitrary_chunks() -> None:
    import struct

    from shared.relay.kubelet.exec import StreamOptions
    from shared.relay.kubelet.spdy import PING, SYN_STREAM, FrameReader, choose, control_frame, data_frame, stream_kinds

    wire = (
        control_frame(SYN_STREAM, struct.pack(">IIH", 1, 0, 0) + b"hdr")
        + data_frame(3, b"stdin bytes", fin=True)
        + control_frame(PING, struct.pack(">I", 7))
    )
    reader = FrameReader()
    for index in range(0, len(wire), 5):  # five bytes at a time: frames straddle every chunk boundary
        assert reader.feed_data(wire[index : index + 5]) == (False, b"")
    frames = [reader.frames.get_nowait() for _ in range(3)]
    assert [(f.control, f.kind, f.stream_id) for f in frames] == [(True, SYN_STREAM, 1), (False, 0, 3), (True, PING, 7)]
    assert frames[1].payload == b"stdin bytes" and frames[1].flags == 1
    assert reader.frames.empty()
    assert choose(["v2.channel.k8s.io, v4.channel.k8s.io"]) == "v4.channel.k8s.io"
    assert choose(["channel.k8s.io"]) is None
    tty = StreamOptions(command=("sh",), stdin=True, stdout=True, stderr=True, tty=True)
    assert stream_kinds(tty) == ["error", "stdin", "stdout", "resize"]
