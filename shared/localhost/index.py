"""The functions of function_app.py as the host indexes them: name, trigger, bindings, user function.

The local host reads the same `get_raw_bindings()` JSON the Python worker sends the
Functions host at indexing, so what it serves cannot drift from what Azure runs. A
trigger or binding it cannot serve fails at start, naming the function.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

TRIGGERS = ("queueTrigger", "httpTrigger", "timerTrigger", "eventGridTrigger")
OUTPUTS = ("queue", "http")


class NotServable(Exception):
    """The app has a function the local host cannot serve."""


@dataclass(frozen=True)
class FunctionSpec:
    """One indexed function."""

    name: str
    trigger: dict[str, Any]
    outputs: tuple[dict[str, Any], ...]
    function: Callable[..., Any]

    @property
    def trigger_type(self) -> str:
        return self.trigger["type"]

    def setting(self, key: str, settings: Mapping[str, str]) -> Any:
        """A trigger property with `%NAME%` resolved from the app settings, as the host does."""
        return resolve(self.trigger.get(key), settings, where=f"{self.name}.{key}")


def resolve(value: Any, settings: Mapping[str, str], *, where: str) -> Any:
    """`%NAME%` -> the app setting NAME; a missing one fails naming the binding and the setting."""
    if not isinstance(value, str):
        return value

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in settings or settings[name] == "":
            raise NotServable(f"{where}: app setting {name} (referenced as %{name}%) is not set")
        return settings[name]

    return re.sub(r"%([^%]+)%", lookup, value)


def index_app(app: Any) -> list[FunctionSpec]:
    """Every function of a `func.FunctionApp`, checked to be servable here."""
    specs = []
    for function in app.get_functions():
        name = function.get_function_name()
        bindings = [json.loads(raw) for raw in function.get_raw_bindings()]
        triggers = [b for b in bindings if b["type"].endswith("Trigger")]
        if len(triggers) != 1 or triggers[0]["type"] not in TRIGGERS:
            found = ", ".join(b["type"] for b in triggers) or "none"
            raise NotServable(f"function {name}: trigger {found} is not served by the local host (use `func start`)")
        outputs = tuple(b for b in bindings if b.get("direction") == "OUT")
        for output in outputs:
            if output["type"] not in OUTPUTS:
                raise NotServable(f"function {name}: output binding {output['type']} is not served by the local host")
        inputs = [b for b in bindings if b.get("direction") == "IN" and b is not triggers[0]]
        if inputs:
            raise NotServable(f"function {name}: input binding {inputs[0]['type']} is not served by the local host")
        specs.append(FunctionSpec(name, triggers[0], outputs, function.get_user_function()))
    return specs


def load_app(module: str = "function_app") -> list[FunctionSpec]:
    """Import the app module (settings must already be in the environment) and index it."""
    import importlib

    imported = importlib.import_module(module)
    app = getattr(imported, "app", None)
    if app is None:
        raise NotServable(f"{module} defines no `app` (a func.FunctionApp)")
    return index_app(app)
