"""The Kubernetes OpenAPI definitions shipped by `kubernetes-validate`, used for patch keys and field pruning.

The real apiserver decodes into Go structs: unknown fields vanish (or fail with fieldValidation=Strict) and
strategic merge patch follows the struct tags. Reading the same schemas keeps the fake honest on both.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate

_REF = "#/$defs/"


@functools.cache
def definitions() -> dict[str, dict[str, Any]]:
    """All definitions of the newest non-strict schema set in the installed package."""
    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"

    def version_key(path: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path.name.split("-")[0]))

    candidates = [p for p in root.iterdir() if p.name.endswith("-local") and (p / "_definitions.json").exists()]
    newest = max(candidates, key=version_key)
    return json.loads((newest / "_definitions.json").read_text())["$defs"]


def resolve(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """Follow `$ref` (and single-element allOf) to the schema that has properties."""
    seen = 0
    while schema is not None and seen < 10:
        seen += 1
        if "$ref" in schema:
            schema = definitions().get(schema["$ref"].removeprefix(_REF))
        elif "allOf" in schema and len(schema["allOf"]) == 1:
            schema = schema["allOf"][0]
        else:
            return schema
    return schema


def definition(name: str) -> dict[str, Any] | None:
    return resolve(definitions().get(name))


def child(schema: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    """The (unresolved) schema of a map entry: a property or an additionalProperties value."""
    schema = resolve(schema)
    if schema is None:
        return None
    props = schema.get("properties")
    if props is not None and key in props:
        return props[key]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, dict) else None


def items(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    schema = resolve(schema)
    return None if schema is None else schema.get("items")


def list_strategy(schema: dict[str, Any] | None) -> tuple[str, str | None]:
    """(patch strategy, merge key) of a list field, from x-kubernetes-patch-* (empty strategy = replace)."""
    if schema is None:
        return "", None
    return schema.get("x-kubernetes-patch-strategy", ""), schema.get("x-kubernetes-patch-merge-key")


def _is_closed_object(schema: dict[str, Any]) -> bool:
    return "properties" in schema and not isinstance(schema.get("additionalProperties"), dict)


def prune(obj: Any, schema: dict[str, Any] | None, path: str = "") -> list[str]:
    """Drop fields the schema does not know, in place; return their dotted paths (for warnings/Strict)."""
    schema = resolve(schema)
    if schema is None:
        return []
    unknown: list[str] = []
    if isinstance(obj, dict):
        if _is_closed_object(schema):
            for key in list(obj):
                if key not in schema["properties"]:
                    unknown.append(f"{path}{key}")
                    del obj[key]
        for key, value in obj.items():
            unknown += prune(value, child(schema, key), f"{path}{key}.")
    elif isinstance(obj, list):
        item_schema = items(schema)
        for index, value in enumerate(obj):
            unknown += prune(value, item_schema, f"{path.rstrip('.')}[{index}].")
    return unknown
