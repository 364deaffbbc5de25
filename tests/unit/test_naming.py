"""Container group names: valid for ACI, deterministic, recognisable, never shared by two pods."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.naming import container_group_name, is_valid_group_name

ACI_RULE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def pod(namespace: str | None, name: str | None, uid: str | None = None) -> dict:
    metadata = {key: value for key, value in (("namespace", namespace), ("name", name), ("uid", uid)) if value}
    return {"metadata": metadata}


def valid(name: str) -> bool:
    return bool(ACI_RULE.match(name)) and "--" not in name


def test_recognisable_and_deterministic():
    name = container_group_name(pod("team-a", "web-7d9c8b6f5-abcde", "uid-1"))
    assert name.startswith("team-a-web-7d9c8b6f5-abcde-")
    assert name == container_group_name(pod("team-a", "web-7d9c8b6f5-abcde", "uid-1"))
    assert valid(name) and is_valid_group_name(name)


def test_ambiguous_separators_do_not_collide():
    assert container_group_name(pod("a-b", "c")) != container_group_name(pod("a", "b-c"))
    assert container_group_name(pod("a-b", "c", "u1")) != container_group_name(pod("a", "b-c", "u2"))


def test_new_uid_new_group():
    assert container_group_name(pod("ns", "p", "u1")) != container_group_name(pod("ns", "p", "u2"))


def test_long_and_odd_names_fit():
    long_name = container_group_name(pod("n" * 63, "p." * 120 + "x", "u"))
    assert len(long_name) <= 63 and valid(long_name)
    dotted = container_group_name(pod("default", "my.pod..name-", "u"))
    assert dotted.startswith("default-my-pod-name-") and valid(dotted)
    assert valid(container_group_name({"metadata": {}}))
    assert valid(container_group_name({}))


_TEXT = st.text(alphabet=st.sampled_from("abcxyz019-._ABC"), max_size=260)


@settings(max_examples=200, deadline=None)
@given(_TEXT, _TEXT, st.one_of(st.none(), st.uuids().map(str)))
def test_always_valid(namespace, name, uid):
    assert valid(container_group_name(pod(namespace, name, uid)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_TEXT, _TEXT), min_size=2, max_size=6, unique=True))
def test_distinct_pods_distinct_names(keys):
    names = {container_group_name(pod(ns or "default", name)) for ns, name in keys}
    distinct = {(ns or "default", name) for ns, name in keys}
    assert len(names) == len(distinct)
