"""Kubernetes quantity parsing and ACI rounding (exact, and always upwards)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.quantities import ceil_div, cpu_to_aci, memory_to_aci_gb, parse_quantity


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", Decimal(1)),
        ("500m", Decimal("0.5")),
        ("1.981", Decimal("1.981")),
        ("1Gi", Decimal(2**30)),
        ("128Mi", Decimal(128 * 2**20)),
        ("3.49G", Decimal("3.49e9")),
        ("1k", Decimal(1000)),
        ("1e3", Decimal(1000)),
        ("1E3", Decimal(1000)),
        ("2E", Decimal("2e18")),
        ("100n", Decimal("1e-7")),
        (".5", Decimal("0.5")),
        (2, Decimal(2)),
        (0.25, Decimal("0.25")),
    ],
)
def test_parse(text, expected):
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("bad", ["", "1.2.3", "1Xi", "abc", "1 Gi", None, True, [1]])
def test_parse_rejects(bad):
    with pytest.raises(ValueError, match="quantity"):
        parse_quantity(bad)


@pytest.mark.parametrize(
    ("cpu", "expected"),
    [("1.981", "1.99"), ("500m", "0.5"), ("0", "0.01"), ("1m", "0.01"), ("2", "2"), ("0.011", "0.02")],
)
def test_cpu_rounds_up_to_hundredths(cpu, expected):
    assert cpu_to_aci(parse_quantity(cpu)) == Decimal(expected)


@pytest.mark.parametrize(
    ("memory", "expected"),
    [("1Gi", "1.1"), ("3.49G", "3.5"), ("128Mi", "0.2"), ("1G", "1"), ("0", "0.1"), ("16G", "16")],
)
def test_memory_rounds_up_to_tenth_gb(memory, expected):
    assert memory_to_aci_gb(parse_quantity(memory)) == Decimal(expected)


def test_ceil_div():
    assert ceil_div(Decimal("0.25"), Decimal("1")) == 1
    assert ceil_div(Decimal(250), Decimal(1)) == 250
    assert ceil_div(Decimal(2**20 + 1), Decimal(2**20)) == 2


def test_exbibytes_are_not_an_exponent():
    from shared.quantities import parse_quantity

    assert parse_quantity("1Ei") == 2**60
    assert parse_quantity("1e3") == 1000
