"""What one app setting is (Setting) and the parsers that validate the text of its value."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    """One app setting: its name, default (None = required when used), parser and meaning."""

    name: str
    default: str | None
    parse: Callable[[str], Any]
    doc: str
    secret: bool = False
    example: str | None = None


def _text(value: str) -> str:
    return value.strip()


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _positive_int(value: str) -> int:
    number = int(value.strip())
    if number <= 0:
        raise ValueError(f"expected a positive integer, got {value!r}")
    return number


def _positive_float(value: str) -> float:
    number = float(value.strip())
    if not number > 0:
        raise ValueError(f"expected a positive number, got {value!r}")
    return number


def _url(value: str) -> str:
    value = value.strip()
    if value and not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"expected an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _node_name(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", value):
        raise ValueError(f"not a valid Kubernetes node name: {value!r}")
    return value


def _os_list(value: str) -> tuple[str, ...]:
    names = tuple(part.strip().lower() for part in value.split(",") if part.strip())
    if not names:
        raise ValueError("expected at least one of linux, windows")
    for name in names:
        if name not in ("linux", "windows"):
            raise ValueError(f"unknown OS {name!r}: expected linux and/or windows")
    return tuple(dict.fromkeys(names))


def _taint(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"[A-Za-z0-9./_-]+(=[A-Za-z0-9._-]*)?:(NoSchedule|PreferNoSchedule|NoExecute)", value):
        raise ValueError(f"expected key[=value]:Effect, got {value!r}")
    return value


def _guid_or_empty(value: str) -> str:
    value = value.strip()
    if value and not re.fullmatch(r"[0-9a-fA-F-]{36}", value):
        raise ValueError(f"expected a GUID, got {value!r}")
    return value


def _resource_group(value: str) -> str:
    value = value.strip()
    if value and not re.fullmatch(r"[-\w._()]{1,90}", value):
        raise ValueError(f"not a valid resource group name: {value!r}")
    return value


def _non_negative_int(value: str) -> int:
    number = int(value.strip())
    if number < 0:
        raise ValueError(f"expected a non-negative integer, got {value!r}")
    return number


def _cluster_id(value: str) -> str:
    value = value.strip()
    if value and not re.fullmatch(r"[A-Za-z0-9][-A-Za-z0-9._]{0,127}", value):
        raise ValueError(f"expected 1-128 letters, digits, '-', '.' or '_', got {value!r}")
    return value


def _at_least_a_minute(value: str) -> int:
    number = int(value.strip())
    if number < 60:
        raise ValueError(f"expected at least 60 seconds (one ARM read per minute at most), got {value!r}")
    return number


def _reject_or_warn(value: str) -> str:
    value = value.strip().lower()
    if value not in ("reject", "warn"):
        raise ValueError(f"expected reject or warn, got {value!r}")
    return value
