"""parse_message is total: any text gives a Message or InvalidMessage, and dead letters stay small (issue 14, 3)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.azure.queue import dead_letter_record
from shared.errors import InvalidMessage
from shared.messages import SAFE_MESSAGE_BYTES, Message, parse_message, wire_bytes
from shared.naming import container_group_name

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
FIELDS = ("v", "op", "pod", "node", "source", "resourceVersion", "ts", "manifest", "group", "attempt")


def _use(message: Message) -> None:
    """What the worker does with a parsed message before any I/O: it must not crash either."""
    json.loads(message.to_text())
    if message.pod is not None:
        container_group_name({"metadata": message.pod.to_json()})
    if message.manifest is not None:
        container_group_name(message.manifest)


def _total(text: str | bytes) -> None:
    try:
        message = parse_message(text)
    except InvalidMessage as error:
        assert len(str(error)) < 400
        return
    _use(message)


@given(st.text())
def test_any_text(text):
    _total(text)


@given(st.binary())
def test_any_bytes(data):
    _total(data)


@given(json_values)
def test_any_json(value):
    _total(json.dumps(value))


message_like = st.fixed_dictionaries(
    {"v": st.just(1) | json_scalars, "op": st.sampled_from(["upsert", "delete", "sync"]) | json_scalars},
    optional={
        "source": st.sampled_from(["watch", "cli"]) | json_scalars,
        "pod": st.fixed_dictionaries(
            {"namespace": st.just("default") | json_values, "name": st.just("web") | json_values},
            optional={"uid": st.text() | json_values},
        )
        | json_values,
        "manifest": st.fixed_dictionaries(
            {
                "apiVersion": st.just("v1"),
                "kind": st.just("Pod"),
                "metadata": st.fixed_dictionaries(
                    {"name": st.just("web") | json_values},
                    optional={"namespace": json_values, "uid": st.text() | json_values},
                )
                | json_values,
                "spec": st.just({"containers": [{"name": "a", "image": "b"}]}) | json_values,
            }
        )
        | json_values,
        "group": st.text(max_size=70) | json_values,
        "node": st.text(max_size=20) | json_values,
        "attempt": st.integers() | json_values,
        "ts": st.text(max_size=30) | json_values,
        "resourceVersion": json_values,
    },
)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(message_like)
def test_any_message_shaped_json(value):
    _total(json.dumps(value))


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"v":1,"op":"upsert","source":"cli","pod":' + "[" * 200 + "]" * 200 + "}",
        '{"v":1,"op":"upsert","source":"cli","attempt":' + "9" * 5000 + "}",
        '{"v":' + "1" * 5000 + "}",
        json.dumps({"v": 1, "op": "upsert", "source": "cli", "attempt": 10**100}),
        '{"v":true,"op":"upsert","source":"cli","pod":{"namespace":"default","name":"web"}}',
    ]
    + [
        json.dumps(
            {
                "v": 1,
                "op": "upsert",
                "source": "cli",
                "manifest": {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": {"containers": [{}]}},
            }
        )
        for metadata in ([], [1], True, 3, "web", {"name": None}, {"name": 7}, {"name": "web", "namespace": 5})
    ]
    + [
        '{"v":1,"op":"upsert","source":"cli","pod":{"namespace":"default","name":"web","uid":"\\ud800"}}',
        '{"v":1,"op":"upsert","source":"cli","pod":{"namespace":"default","name":"web"},"resourceVersion":"\\udfff"}',
        '{"v":1,"op":"upsert","source":"cli","pod":{"namespace":"default","name":"web"},"ts":"\\ud800"}',
        '{"v":1,"op":"sync","source":"cli","group":"g","\\ud800":1}',
        '{"v":1,"op":"upsert","source":"cli","pod":{"namespace":"default","name":"web","uid":"' + "u" * 200 + '"}}',
        "\ud800",
    ],
)
def test_hostile_cases_are_invalid_messages(text):
    with pytest.raises(InvalidMessage) as raised:
        parse_message(text)
    assert len(str(raised.value)) < 400


def test_a_valid_pair_of_surrogates_is_fine():
    text = (
        '{"v":1,"op":"upsert","source":"cli","pod":{"namespace":"default","name":"web"},'
        '"resourceVersion":"\\ud83d\\ude00"}'
    )
    assert parse_message(text).resource_version == "\U0001f600"


def test_the_reason_quoting_a_huge_value_stays_short():
    text = json.dumps({"v": 1, "op": "upsert", "source": "cli", "group": "x" * 60_000})
    with pytest.raises(InvalidMessage) as raised:
        parse_message(text)
    assert len(str(raised.value)) < 200
    record = dead_letter_record(text, str(raised.value), raised.value.field, 1)
    assert wire_bytes(record) <= SAFE_MESSAGE_BYTES
    assert json.loads(record)["reason"] == str(raised.value)


@given(st.text(), st.text(), st.none() | st.text())
def test_a_dead_letter_record_always_fits(original, reason, field):
    record = dead_letter_record(original * 50, reason * 200, field)
    assert wire_bytes(record) <= SAFE_MESSAGE_BYTES
    record.encode("utf-8")
    assert json.loads(record)["original"] is not None


def test_a_dead_letter_of_markup_heavy_text_fits_after_xml_escaping():
    record = dead_letter_record("<&>" * 30_000, "r" * 100_000, "f")
    assert wire_bytes(record) <= SAFE_MESSAGE_BYTES
    assert json.loads(record)["originalTruncated"] is True
