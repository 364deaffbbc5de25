"""What one app setting is (Setting) and the parsers that validate the text of its value."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("aci_connector.config")


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
    """A Node name, or "" for the one VIRTUAL_NODE_PROFILE gives."""
    value = value.strip()
    if value and not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", value):
        raise ValueError(f"not a valid Kubernetes node name: {value!r}")
    return value


def _os_list(value: str) -> tuple[str, ...]:
    """linux and/or windows; empty means the OSes VIRTUAL_NODE_PROFILE gives."""
    names = tuple(part.strip().lower() for part in value.split(",") if part.strip())
    if not names and value.strip():
        raise ValueError("expected at least one of linux, windows")
    for name in names:
        if name not in ("linux", "windows"):
            raise ValueError(f"unknown OS {name!r}: expected linux and/or windows")
    return tuple(dict.fromkeys(names))


def _profile(value: str) -> str:
    from shared.node import node_profile

    return node_profile(value).name


def _taint(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"[A-Za-z0-9./_-]+(=[A-Za-z0-9._-]*)?:(NoSchedule|PreferNoSchedule|NoExecute)", value):
        raise ValueError(f"expected key[=value]:Effect, got {value!r}")
    return value


def _empty_or_matching(pattern: str, expected: str) -> Callable[[str], str]:
    """A parser for an optional name: empty, or the whole value matches `pattern`."""

    def parse(value: str) -> str:
        value = value.strip()
        if value and not re.fullmatch(pattern, value):
            raise ValueError(f"expected {expected}, got {value!r}")
        return value

    return parse


_guid_or_empty = _empty_or_matching(r"[0-9a-fA-F-]{36}", "a GUID")
_resource_group = _empty_or_matching(r"[-\w._()]{1,90}", "a valid resource group name")


def _non_negative_int(value: str) -> int:
    number = int(value.strip())
    if number < 0:
        raise ValueError(f"expected a non-negative integer, got {value!r}")
    return number


_cluster_id = _empty_or_matching(r"[A-Za-z0-9][-A-Za-z0-9._]{0,127}", "1-128 letters, digits, '-', '.' or '_'")


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


_FROM_PROFILE: dict[str, Callable[[Any], Any]] = {
    "VIRTUAL_NODE_OS": lambda profile: profile.os_list,
    "VIRTUAL_NODE_NAME_LINUX": lambda profile: profile.node_names["linux"],
    "VIRTUAL_NODE_NAME_WINDOWS": lambda profile: profile.node_names["windows"],
}
"""Settings whose empty value means "what VIRTUAL_NODE_PROFILE says": an explicit value always wins."""


def from_profile(name: str, value: Any, values: Mapping[str, Any]) -> Any:
    """`value`, or for an empty setting that defers to the profile, the profile's (shared.node.PROFILES)."""
    if value not in ("", ()) or name not in _FROM_PROFILE:
        return value
    from shared.node import node_profile

    return _FROM_PROFILE[name](node_profile(values.get("VIRTUAL_NODE_PROFILE") or "default"))


ALIASES = {"AZURE_CLIENT_KEY": "AZURE_CLIENT_SECRET"}
"""The 2017 connector's names read in place of today's (old -> today's). Its AZURE_CLIENT_ID, AZURE_TENANT_ID,
AZURE_SUBSCRIPTION_ID and ACI_RESOURCE_GROUP are today's names too."""
_warned_aliases: set[str] = set()


def warn_aliases(values: Mapping[str, Any]) -> None:
    """One warning per process and alias in use: the old name works, today's is what docs and tools know."""
    for old, new in ALIASES.items():
        if not values.get(old) or old in _warned_aliases:
            continue
        _warned_aliases.add(old)
        if values.get(new):
            log.warning("setting %s (the 2017 connector's name) is ignored: %s is set too and wins", old, new)
        else:
            log.warning("setting %s (the 2017 connector's name) is read as %s; rename it to %s", old, new, new)
