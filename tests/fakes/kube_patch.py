"""The three patch types the apiserver accepts: JSON patch, JSON merge patch and strategic merge patch.

Strategic merge follows the x-kubernetes-patch-* keys of the real OpenAPI schemas: lists with a merge key
(conditions by `type`, containers/env/volumes by `name`, ports by `containerPort`) merge item by item,
lists without one (tolerations, containerStatuses) are replaced whole, exactly like a real server.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

from tests.fakes import kube_schema
from tests.fakes.kube_errors import KubeError, bad_request

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
SUPPORTED = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH)

_DELETE = object()
_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"


def rejected(detail: str) -> KubeError:
    """The 422 the apiserver sends when a patch cannot be applied to the object."""
    details = {"causes": [{"reason": "UnexpectedServerResponse", "message": detail}]}
    return KubeError(422, "the server rejected our request due to an error in our request", "Invalid", details)


def apply_patch(content_type: str, original: dict[str, Any], patch: Any, definition: str) -> dict[str, Any]:
    """Apply a patch body of the given media type to a copy of `original`."""
    media = content_type.split(";", maxsplit=1)[0].strip().lower()
    if media == JSON_PATCH:
        return json_patch(original, patch)
    if not isinstance(patch, dict):
        raise bad_request("json: cannot unmarshal array into Go value of type map[string]interface {}")
    if media == MERGE_PATCH:
        result = merge_patch(original, patch)
        return result if isinstance(result, dict) else {}
    if media == STRATEGIC_PATCH:
        return strategic_merge(original, patch, kube_schema.definitions().get(definition))
    raise KubeError(
        415,
        "the body of the request was in an unknown format - accepted media types include: " + ", ".join(SUPPORTED),
        "UnsupportedMediaType",
    )


def json_patch(original: dict[str, Any], patch: Any) -> dict[str, Any]:
    if not isinstance(patch, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    try:
        result = jsonpatch.JsonPatch(patch).apply(copy.deepcopy(original))
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise rejected(str(exc)) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise bad_request(f"invalid JSON patch: {exc}") from exc
    if not isinstance(result, dict):
        raise rejected("patch result is not an object")
    return result


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, everything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strip_directives(value: Any) -> Any:
    """A patch fragment as it lands in the object when nothing was there to merge with."""
    if isinstance(value, dict):
        return {k: strip_directives(v) for k, v in value.items() if not k.startswith("$") and v is not None}
    if isinstance(value, list):
        return [strip_directives(v) for v in value]
    return value


def strategic_merge(original: dict[str, Any], patch: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any]:
    merged = _merge_map(original, patch, schema)
    return {} if merged is _DELETE else merged


def _merge_map(original: dict[str, Any], patch: dict[str, Any], schema: dict[str, Any] | None) -> Any:
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return strip_directives(patch)
    if directive is not None:
        raise bad_request(f"Unknown patch type: {directive} in map: {patch}")
    result = copy.deepcopy(original)
    orders: dict[str, list[Any]] = {}
    removals: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key == "$retainKeys":
            continue
        if key.startswith(_ORDER):
            orders[key.removeprefix(_ORDER)] = value
        elif key.startswith(_DELETE_PRIMITIVE):
            removals[key.removeprefix(_DELETE_PRIMITIVE)] = value
        elif value is None:
            result.pop(key, None)
        else:
            _merge_field(result, key, value, kube_schema.child(schema, key))
    for key, values in removals.items():
        if isinstance(result.get(key), list):
            result[key] = [v for v in result[key] if v not in values]
    for key, order in orders.items():
        if isinstance(result.get(key), list):
            _, merge_key = kube_schema.list_strategy(kube_schema.child(schema, key))
            result[key] = _reorder(result[key], order, merge_key)
    if isinstance(patch.get("$retainKeys"), list):
        keep = set(patch["$retainKeys"])
        result = {k: v for k, v in result.items() if k in keep}
    return result


def _merge_field(result: dict[str, Any], key: str, value: Any, schema: dict[str, Any] | None) -> None:
    current = result.get(key)
    if isinstance(value, dict):
        merged = _merge_map(current if isinstance(current, dict) else {}, value, schema)
        if merged is _DELETE:
            result.pop(key, None)
        else:
            result[key] = merged
    elif isinstance(value, list):
        result[key] = _merge_list(current if isinstance(current, list) else [], value, schema)
    else:
        result[key] = value


def _merge_list(original: list[Any], patch: list[Any], schema: dict[str, Any] | None) -> list[Any]:
    strategy, merge_key = kube_schema.list_strategy(kube_schema.resolve(schema) if schema else None)
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [strip_directives(i) for i in patch if not (isinstance(i, dict) and i.get("$patch") == "replace")]
    if "merge" not in strategy.split(","):
        return [strip_directives(item) for item in patch]
    if merge_key is None:
        result = list(original)
        result += [item for item in patch if item not in result]
        return result
    item_schema = kube_schema.items(schema)
    result = copy.deepcopy(original)
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            raise rejected(f"map: {item} does not contain declared merge key: {merge_key}")
        wanted = item[merge_key]
        index = next(
            (i for i, cur in enumerate(result) if isinstance(cur, dict) and cur.get(merge_key) == wanted), None
        )
        if item.get("$patch") == "delete":
            result = [cur for cur in result if not (isinstance(cur, dict) and cur.get(merge_key) == wanted)]
        elif index is None:
            result.append(strip_directives(item))
        else:
            merged = _merge_map(result[index], item, item_schema)
            if merged is _DELETE:
                del result[index]
            else:
                result[index] = merged
    return result


def _reorder(values: list[Any], order: list[Any], merge_key: str | None) -> list[Any]:
    """Apply $setElementOrder: listed elements first in the given order, the rest after, as they were."""

    def ident(value: Any) -> Any:
        return value.get(merge_key) if merge_key and isinstance(value, dict) else value

    wanted = [ident(o) for o in order]
    placed = [v for w in wanted for v in values if ident(v) == w]
    rest = [v for v in values if ident(v) not in wanted]
    return placed + rest
