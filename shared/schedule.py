"""NCRONTAB, as the Functions timer trigger reads it: six fields, seconds first.

`RECONCILE_SCHEDULE` is handed to the host as `%RECONCILE_SCHEDULE%`; a typo there only shows
up as a timer that never fires (or a host that refuses the function), long after deployment.
Validating the expression when settings load turns it into a start-up error naming the setting.
"""

from __future__ import annotations

import re

FIELDS = (
    ("second", 0, 59, ()),
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day", 1, 31, ()),
    ("month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")),
    ("day of week", 0, 6, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
)
_ITEM = re.compile(r"^(?P<range>\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:/(?P<step>[0-9]+))?$")


def validate_ncrontab(expression: str) -> str:
    """The expression, stripped, when it is a valid six-field NCRONTAB; ValueError naming the bad field otherwise."""
    parts = expression.split()
    if len(parts) != len(FIELDS):
        raise ValueError(
            f"expected six NCRONTAB fields (second minute hour day month day-of-week), got {len(parts)}: {expression!r}"
        )
    for text, (name, low, high, names) in zip(parts, FIELDS, strict=True):
        for item in text.split(","):
            _check_item(item, name, low, high, names)
    return " ".join(parts)


def _check_item(item: str, name: str, low: int, high: int, names: tuple[str, ...]) -> None:
    match = _ITEM.match(item)
    if match is None:
        raise ValueError(f"{name} field: {item!r} is not *, a value, a range or a list, optionally /step")
    step = match.group("step")
    if step is not None and int(step) == 0:
        raise ValueError(f"{name} field: step 0 in {item!r}")
    if match.group("range") == "*":
        return
    bounds = [_value(part, name, low, high, names) for part in match.group("range").split("-")]
    if len(bounds) == 2 and bounds[0] > bounds[1]:
        raise ValueError(f"{name} field: range {item!r} runs backwards")


def _value(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> int:
    if text.upper() in names:
        return names.index(text.upper()) + low
    if not text.isdigit() or not text.isascii():
        raise ValueError(
            f"{name} field: {text!r} is not a number" + (f" or one of {', '.join(names)}" if names else "")
        )
    number = int(text)
    if not low <= number <= high:
        raise ValueError(f"{name} field: {number} is outside {low}-{high}")
    return number
