"""Capacity math: scheduler-style pod requests, quantity formatting, quota capping, the report and its caches."""

from __future__ import annotations

import re
import threading
import time
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.azure.quota import TtlCache
from shared.capacity import (
    AciQuota,
    Resources,
    capacity_report,
    format_quantity,
    node_allocatable,
    node_capacity,
    parse_quantity,
    parse_usages,
    pod_requests,
    sum_requests,
    to_prometheus,
)
from shared.config import load_settings


def _container(cpu: str | None = None, memory: str | None = None, *, limits: dict | None = None, **extra) -> dict:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    resources: dict = {}
    if requests:
        resources["requests"] = requests
    if limits:
        resources["limits"] = limits
    return {"name": f"c{id(requests)}", "image": "busybox", "resources": resources, **extra}


def _pod(containers, init=(), phase="Running", **spec) -> dict:
    return {
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": list(containers), "initContainers": list(init), **spec},
        "status": {"phase": phase},
    }


def test_pod_requests_sum_containers_and_count_one_pod():
    pod = _pod([_container("500m", "512Mi"), _container("250m", "256Mi")])
    assert pod_requests(pod) == Resources(cpu=Decimal("0.75"), memory=Decimal(768 * 2**20), pods=Decimal(1))


def test_init_containers_count_by_their_peak_not_their_sum():
    # Scheduler rule: max(sum of app containers, max of init containers), per resource independently.
    pod = _pod([_container("1", "1Gi")], init=[_container("2", "256Mi"), _container("500m", "3Gi")])
    requests = pod_requests(pod)
    assert requests.cpu == Decimal(2)
    assert requests.memory == Decimal(3 * 2**30)


def test_restartable_init_containers_add_like_sidecars():
    # The Kubernetes docs' sidecar example: the sidecar keeps running, so it adds to the app containers
    # and to every init container started after it.
    sidecar = _container("1", restartPolicy="Always")
    pod = _pod([_container("2")], init=[_container("1"), sidecar, _container("3")])
    # app phase: 2 + 1 (sidecar) = 3; init peak: max(1, 1, 3 + 1) = 4
    assert pod_requests(pod).cpu == Decimal(4)


def test_overhead_is_added_and_limits_stand_in_for_missing_requests():
    pod = _pod([_container(limits={"cpu": "1", "memory": "1Gi"})], overhead={"cpu": "250m", "memory": "120Mi"})
    requests = pod_requests(pod)
    assert requests.cpu == Decimal("1.25")
    assert requests.memory == Decimal(2**30 + 120 * 2**20)


def test_pod_level_requests_replace_the_container_aggregate():
    pod = _pod([_container("1", "1Gi"), _container("1", "1Gi")], resources={"requests": {"cpu": "1500m"}})
    requests = pod_requests(pod)
    assert requests.cpu == Decimal("1.5")
    assert requests.memory == Decimal(2 * 2**30)


def test_terminal_pods_hold_nothing():
    pods = [
        _pod([_container("1", "1Gi")]),
        _pod([_container("4", "4Gi")], phase="Succeeded"),
        _pod([_container("8", "8Gi")], phase="Failed"),
        _pod([_container("500m", "1Gi")], phase="Pending"),
    ]
    total = sum_requests(pods)
    assert (total.cpu, total.memory, total.pods) == (Decimal("1.5"), Decimal(2 * 2**30), Decimal(2))


def test_exact_decimal_arithmetic():
    pods = [_pod([_container("100m")]), _pod([_container("200m")])]
    assert sum_requests(pods).quantities()["cpu"] == "300m"


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("cpu", Decimal(4), "4"),
        ("cpu", Decimal("1.5"), "1500m"),
        ("cpu", Decimal("0.0001"), "1m"),
        ("cpu", Decimal("-0.5"), "-500m"),
        ("memory", Decimal(2**30) * Decimal("1.5"), "1536Mi"),
        ("memory", Decimal(3_490_000_000), "3490M"),
        ("memory", Decimal(1001), "1001"),
        ("memory", Decimal(0), "0"),
        ("ephemeral-storage", Decimal(100 * 2**40), "100Ti"),
        ("pods", Decimal(5000), "5000"),
    ],
)
def test_format_quantity(name, value, text):
    assert format_quantity(name, value) == text


@given(st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False, allow_infinity=False))
def test_cpu_quantities_round_trip(value):
    assert parse_quantity(format_quantity("cpu", value)) == value


@given(st.integers(min_value=0, max_value=2**60 - 1))  # shared.quantities cannot parse 'Ei' yet (reported)
def test_byte_quantities_round_trip(value):
    assert parse_quantity(format_quantity("memory", Decimal(value))) == value


def test_node_capacity_from_settings():
    settings = load_settings({"NODE_CPU": "64", "NODE_MEMORY": "1.5Gi", "NODE_PODS": "110"})
    expected = {"cpu": "64", "memory": "1536Mi", "pods": "110", "ephemeral-storage": "100Ti"}
    assert node_capacity(settings) == expected
    assert node_allocatable(settings) == expected


QUOTA = AciQuota(
    "westus", cores_used=Decimal(30), cores_limit=Decimal(100), groups_used=Decimal(12), groups_limit=Decimal(100)
)


def test_quota_is_ignored_unless_capping_is_enabled():
    settings = load_settings({})
    assert node_capacity(settings, QUOTA) == node_capacity(settings)


def test_capping_keeps_the_scheduler_within_what_aci_can_still_run():
    settings = load_settings({"NODE_CAPACITY_FROM_QUOTA": "true"})
    ours = Resources(cpu=Decimal(10), pods=Decimal(10))  # our pods hold 10 of the 30 cores and 10 of the 12 groups
    capacity = node_capacity(settings, QUOTA, ours)
    allocatable = node_allocatable(settings, QUOTA, ours)
    assert (capacity["cpu"], capacity["pods"]) == ("100", "100")
    # others use 20 cores and 2 groups: the scheduler may place 80 cores / 98 pods, ours included
    assert (allocatable["cpu"], allocatable["pods"]) == ("80", "98")
    assert allocatable["memory"] == capacity["memory"] == "4Ti"
    small = load_settings({"NODE_CAPACITY_FROM_QUOTA": "true", "NODE_CPU": "16", "NODE_PODS": "50"})
    assert node_allocatable(small, QUOTA, ours)["cpu"] == "16"
    assert node_allocatable(small, QUOTA, ours)["pods"] == "50"


def test_parse_usages_reads_arm_usage_list():
    items = [
        {"unit": "Count", "currentValue": 2, "limit": 100, "name": {"value": "ContainerGroups", "localizedValue": "x"}},
        {"unit": "Count", "currentValue": 3, "limit": 10, "name": {"value": "StandardCores", "localizedValue": "y"}},
        {
            "unit": "Count",
            "currentValue": 0,
            "limit": 10,
            "name": {"value": "StandardSpotCores", "localizedValue": "z"},
        },
    ]
    quota = parse_usages(items, "westus")
    assert quota == AciQuota("westus", Decimal(3), Decimal(10), Decimal(2), Decimal(100))
    assert quota.cores_left == 7
    with pytest.raises(ValueError, match="standardcores"):
        parse_usages(items[:1], "westus")
    with pytest.raises(ValueError, match="numeric"):
        parse_usages([{**items[1], "limit": None}, items[0]], "westus")


def _report(settings, requested, quota=QUOTA, node=None):
    return capacity_report(
        settings, requested=requested, quota=quota, quota_status={"ageSeconds": 1.5, "stale": False}, only_node=node
    )


def test_report_shows_remaining_and_refuses_unknown_nodes():
    settings = load_settings({"VIRTUAL_NODE_OS": "linux,windows", "NODE_CPU": "8"})
    used = Resources(cpu=Decimal("2.5"), memory=Decimal(2**30), pods=Decimal(3))
    report = _report(settings, {"aci-connector-linux": used, "aci-connector-windows": Resources()})
    linux, windows = report["nodes"]
    assert (linux["name"], linux["os"], windows["os"]) == ("aci-connector-linux", "linux", "windows")
    assert linux["remaining"]["quantities"]["cpu"] == "5500m"
    assert linux["remaining"]["numbers"]["cpu"] == 5.5
    assert linux["requested"]["numbers"]["pods"] == 3
    assert report["quota"]["standardCores"] == {"used": 30.0, "limit": 100.0}
    assert [n["name"] for n in _report(settings, {}, node="aci-connector-windows")["nodes"]] == [
        "aci-connector-windows"
    ]
    with pytest.raises(KeyError):
        _report(settings, {}, node="some-other-node")


def test_standalone_report_has_no_requested_or_remaining():
    report = _report(load_settings({}), {"aci-connector-linux": None}, quota=None)
    [node] = report["nodes"]
    assert node["requested"] is None and node["remaining"] is None
    assert report["mode"] == "standalone"
    assert "standardCores" not in report["quota"]


_SAMPLE = re.compile(r'^([a-z_]+)\{([a-z]+="[^"]*"(?:,[a-z]+="[^"]*")*)\} (-?[0-9.e+]+)$')


def test_prometheus_exposition_is_well_formed_and_grouped_by_family():
    settings = load_settings({"VIRTUAL_NODE_OS": "linux,windows"})
    text = to_prometheus(
        _report(settings, {"aci-connector-linux": Resources(cpu=Decimal(1)), "aci-connector-windows": None})
    )
    assert text.endswith("\n")
    seen_families: list[str] = []
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            family = line.split()[2]
            assert family not in seen_families, f"family {family} split"
            seen_families.append(family)
            continue
        if line.startswith("# HELP "):
            continue
        match = _SAMPLE.match(line)
        assert match, line
        assert match.group(1) == seen_families[-1], line
        values[f"{match.group(1)}{{{match.group(2)}}}"] = float(match.group(3))
    assert (
        values['aci_connector_node_requested{node="aci-connector-linux",os="linux",resource="cpu",unit="cores"}'] == 1
    )
    assert not any('node="aci-connector-windows"' in k and "requested" in k for k in values)
    assert values['aci_connector_aci_quota_limit{quota="ContainerGroups",region="westus"}'] == 100
    assert values['aci_connector_aci_quota_age_seconds{region="westus"}'] == 1.5


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cache_fetches_once_per_window_and_serves_stale_on_failure():
    clock = _Clock()
    answers: list[object] = ["first", RuntimeError("ARM down"), "third"]

    def fetch():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    cache = TtlCache(fetch, 60, monotonic=clock, wall=clock)
    assert [cache.get().value for _ in range(50)] == ["first"] * 50
    assert cache.fetches == 1
    clock.now += 60
    failed = cache.get()
    assert (failed.value, failed.fetched_at) == ("first", 1000.0)
    assert failed.error == "RuntimeError: ARM down"
    assert failed.status(clock.now)["stale"] is True
    clock.now += 30  # a failure is an attempt too: no retry inside the window
    assert cache.get().error and cache.fetches == 2
    clock.now += 30
    assert cache.get().value == "third" and cache.get().error is None
    assert cache.fetches == 3


def test_concurrent_callers_share_one_fetch():
    started = threading.Event()
    release = threading.Event()
    calls = []

    def slow_fetch():
        calls.append(1)
        started.set()
        release.wait(5)
        return len(calls)

    cache = TtlCache(slow_fetch, 60)
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get().value)) for _ in range(8)]
    for thread in threads:
        thread.start()
    assert started.wait(5)
    time.sleep(0.05)
    release.set()
    for thread in threads:
        thread.join(5)
    assert calls == [1]
    assert results == [1] * 8
