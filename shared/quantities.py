"""Kubernetes resource quantities, parsed exactly (Decimal), and ACI's coarser grid.

Kubernetes writes quantities as strings ("500m", "1Gi", "3.49G", "1e3") and manifests
sometimes as bare JSON numbers. Floats would turn "0.1" + "0.2" into 0.30000000000000004
and round a 1.99 request down to 1.98 on ACI's 0.01 grid, so everything here is Decimal
and every conversion to ACI units rounds *up*: a container never gets less than it asked for.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_QUANTITY = re.compile(r"^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))([eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$")

BYTES_PER_GB = Decimal(10) ** 9
"""ACI's memoryInGB is decimal gigabytes (1 GB = 10^9 bytes), so 1Gi is 1.07... GB."""
CPU_STEP = Decimal("0.01")
MEMORY_STEP_GB = Decimal("0.1")


def parse_quantity(value: object) -> Decimal:
    """The exact value of a Kubernetes quantity; ValueError when it is not one."""
    if isinstance(value, bool):
        raise ValueError(f"not a quantity: {value!r}")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if not isinstance(value, str):
        raise ValueError(f"not a quantity: {value!r}")
    match = _QUANTITY.match(value.strip())
    if match is None:
        raise ValueError(f"not a quantity: {value!r}")
    number, suffix = match.group(1), match.group(2) or ""
    try:
        base = Decimal(number)
    except InvalidOperation:  # pragma: no cover - the regex admits only valid decimals
        raise ValueError(f"not a quantity: {value!r}") from None
    try:
        if suffix[:1] in ("e", "E") and len(suffix) > 1 and suffix != "Ei":
            return base.scaleb(int(suffix[1:]))
        if suffix in _BINARY:
            return base * _BINARY[suffix]
        return base * _DECIMAL[suffix]
    except ArithmeticError:  # decimal.InvalidOperation / Overflow: an exponent beyond any real quantity
        raise ValueError(f"not a quantity (out of range): {value[:40]!r}") from None


def positive_quantity(value: str) -> str:
    """A setting that must be a positive quantity (NODE_MEMORY, ...): the text, validated; ValueError if not."""
    value = value.strip()
    if not parse_quantity(value) > 0:
        raise ValueError(f"expected a positive Kubernetes quantity, got {value!r}")
    return value


def round_up(value: Decimal, step: Decimal) -> Decimal:
    """The smallest multiple of `step` that is >= value (and at least one step)."""
    steps = (value / step).to_integral_value(rounding=ROUND_CEILING)
    return max(steps, Decimal(1)) * step


def cpu_to_aci(cores: Decimal) -> Decimal:
    """Cores on ACI's 0.01 grid, rounded up: 1.981 -> 1.99, 500m -> 0.5, 0 -> 0.01."""
    return round_up(cores, CPU_STEP)


def memory_to_aci_gb(num_bytes: Decimal) -> Decimal:
    """Bytes as decimal GB on ACI's 0.1 grid, rounded up: 1Gi -> 1.1, 128Mi -> 0.2, 3.49G -> 3.5."""
    return round_up(num_bytes / BYTES_PER_GB, MEMORY_STEP_GB)


def ceil_div(value: Decimal, divisor: Decimal) -> int:
    """ceil(value / divisor) as an integer, as the kubelet renders resourceFieldRef values."""
    return int((value / divisor).to_integral_value(rounding=ROUND_CEILING))
