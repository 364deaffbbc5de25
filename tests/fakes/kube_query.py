"""Query parameters of list, watch and write requests, decoded and refused as the apiserver does.

The apiserver decodes the query into ListOptions/DeleteOptions/CreateOptions... with its parameter codec
(integers through Go's strconv.ParseInt, booleans true unless "0"/"false", the first of repeated values),
answers 400 BadRequest with the decoder's own message when that fails, then validates the options (422 Invalid,
`ListOptions.meta.k8s.io "" is invalid: ...`). Each answer here was compared with a real kube-apiserver
(tests/integration/test_fake_kube_query.py); where 1.20 and current Kubernetes word one differently, the
current wording is kept and the test says so.
"""

from __future__ import annotations

import base64
import binascii
import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.fakes.kube_errors import Cause, KubeError, bad_request, go_quote
from tests.fakes.kube_selectors import parse_field_terms, parse_label_selector

_INT = re.compile(r"[+-]?[0-9]+")
_INT64 = 2**63
_RAW_URL_ALPHABET = re.compile(r"[A-Za-z0-9_-]*")
_OPTIONS_KIND = {"POST": "CreateOptions", "PUT": "UpdateOptions", "PATCH": "PatchOptions", "DELETE": "DeleteOptions"}


def parse_int(raw: str) -> int:
    """strconv.ParseInt(raw, 10, 64): an optional sign and digits, nothing else (no blanks, no fraction)."""
    if not _INT.fullmatch(raw):
        raise bad_request(f"strconv.ParseInt: parsing {go_quote(raw)}: invalid syntax")
    value = int(raw)
    if not -_INT64 <= value < _INT64:
        raise bad_request(f"strconv.ParseInt: parsing {go_quote(raw)}: value out of range")
    return value


def parse_bool(raw: str | None) -> bool:
    """The parameter codec's bool: absent is false, present is true unless "0" or "false" (any case)."""
    return raw is not None and raw != "0" and raw.lower() != "false"


def parse_resource_version(raw: str | None) -> int:
    """The storage versioner: "" and "0" are 0, else an unsigned integer; otherwise a 500 with no reason."""
    if raw in (None, "", "0"):
        return 0
    assert raw is not None
    problem = ""
    if not (raw.isascii() and raw.isdigit()):
        problem = "invalid syntax"
    elif int(raw) >= 2**64:
        problem = "value out of range"
    if problem:
        message = (
            f"resourceVersion: Invalid value: {go_quote(raw)}: strconv.ParseUint: parsing {go_quote(raw)}: {problem}"
        )
        raise KubeError(500, message, reason="")
    return int(raw)


def options_invalid(kind: str, causes: list[Cause]) -> KubeError:
    """422 for request options: `ListOptions.meta.k8s.io "" is invalid: <field>: <detail>` (no object name)."""
    parts = [f"{c.field}: {c.text()}" for c in causes]
    summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details = {"group": "meta.k8s.io", "kind": kind, "causes": [c.as_dict() for c in causes]}
    return KubeError(422, f'{kind}.meta.k8s.io "" is invalid: {summary}', "Invalid", details)


class GoValue:
    """A value Go prints with `%#v` in a NotSupported cause (`[]string{"Bogus"}`), shown unquoted."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class ListOptions:
    """The decoded list/watch parameters the fake acts on."""

    watch: bool
    bookmarks: bool
    timeout: int | None
    limit: int
    resource_version: str
    match: str
    continue_token: str
    send_initial_events: bool | None = None


def list_options(query: Mapping[str, str]) -> ListOptions:
    """Decode (400, in ListOptions' field order) then validate (422) the query of a list or watch."""
    parse_label_selector(query.get("labelSelector"))
    parse_field_terms(query.get("fieldSelector"))
    timeout = query.get("timeoutSeconds")
    limit = query.get("limit")
    options = ListOptions(
        watch=parse_bool(query.get("watch")),
        bookmarks=parse_bool(query.get("allowWatchBookmarks")),
        timeout=None if timeout is None else parse_int(timeout),
        limit=0 if limit is None else parse_int(limit),
        resource_version=query.get("resourceVersion") or "",
        match=query.get("resourceVersionMatch") or "",
        continue_token=query.get("continue") or "",
        send_initial_events=parse_bool(query["sendInitialEvents"]) if "sendInitialEvents" in query else None,
    )
    causes = _watch_causes(options) if options.watch else _list_causes(options)
    if causes:
        raise options_invalid("ListOptions", causes)
    return options


def _list_causes(options: ListOptions) -> list[Cause]:
    causes: list[Cause] = []
    if options.send_initial_events is not None:
        causes.append(Cause("sendInitialEvents", "Forbidden", "sendInitialEvents is forbidden for list"))
    match = options.match
    if not match:
        return causes
    if not options.resource_version:
        causes.append(
            Cause(
                "resourceVersionMatch",
                "Forbidden",
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            )
        )
    if options.continue_token:
        causes.append(
            Cause("resourceVersionMatch", "Forbidden", "resourceVersionMatch is forbidden when continue is provided")
        )
    if match == "Exact" and options.resource_version == "0":
        detail = 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'
        causes.append(Cause("resourceVersionMatch", "Forbidden", detail))
    elif match not in ("Exact", "NotOlderThan"):
        supported = 'supported values: "Exact", "NotOlderThan", ""'
        causes.append(Cause("resourceVersionMatch", "Unsupported value", supported, match))
    return causes


def _watch_causes(options: ListOptions) -> list[Cause]:
    """Current Kubernetes' rules (WatchList, 1.27+, its feature gate on); 1.20 has no sendInitialEvents and words
    the match rule without `unless...`."""
    causes: list[Cause] = []
    if options.send_initial_events is not None and options.match != "NotOlderThan":
        detail = "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
        causes.append(Cause("resourceVersionMatch", "Forbidden", detail))
    if not options.match:
        return causes
    if options.send_initial_events is None:
        detail = "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"
        causes.append(Cause("resourceVersionMatch", "Forbidden", detail))
    if options.match != "NotOlderThan":
        causes.append(
            Cause("resourceVersionMatch", "Unsupported value", 'supported values: "NotOlderThan"', options.match)
        )
    if options.continue_token:
        causes.append(
            Cause("resourceVersionMatch", "Forbidden", "resourceVersionMatch is forbidden when continue is provided")
        )
    return causes


def check_dry_run(
    method: str, values: list[str], query: Mapping[str, str] | None = None, patch_type: str | None = None
) -> bool:
    """Validate a write's options as ValidateCreate/Update/PatchOptions do (`force` only on apply patches, then
    `fieldManager`: at most 128 bytes of printable characters, then every `dryRun` value: only "All" exists);
    True when the write is a dry run."""
    query = query or {}
    causes: list[Cause] = []
    if method == "PATCH" and patch_type != "application/apply-patch+yaml" and "force" in query:
        causes.append(Cause("force", "Forbidden", "may not be specified for non-apply patch"))
    manager = query.get("fieldManager", "")
    if len(manager.encode()) > 128:
        causes.append(Cause("fieldManager", "Too long", "must have at most 128 bytes"))
    position = 0
    for char in manager:
        if not char.isprintable():
            detail = f"invalid character U+{ord(char):04X} (at position {position})"
            causes.append(Cause("fieldManager", "Invalid value", detail, GoValue(go_quote(manager))))
        position += len(char.encode())
    if any(value != "All" for value in values):
        shown = GoValue("[]string{" + ", ".join(go_quote(v) for v in values) + "}")
        causes.append(Cause("dryRun", "Unsupported value", 'supported values: "All"', shown))
    if causes:
        raise options_invalid(_OPTIONS_KIND.get(method, "CreateOptions"), causes)
    return bool(values)


def pretty(raw: str | None, user_agent: str) -> bool:
    """Whether the apiserver indents its JSON: `pretty` as strconv.ParseBool reads it, else for curl, wget and
    browsers (a `pretty` it cannot parse means no)."""
    if raw:
        return raw in ("1", "t", "T", "true", "TRUE", "True")
    return user_agent.startswith(("curl", "Wget", "Mozilla/5.0"))


def delete_options(query: Mapping[str, str], body: Any, dry_run: list[str]) -> dict[str, Any]:
    """DeleteOptions from the body when there is one, else from the query (the apiserver never mixes them)."""
    if body is not None:
        options = _decode_delete_options(body)
        dry_run = list(options.get("dryRun") or [])
    else:
        options = {}
        if "gracePeriodSeconds" in query:
            options["gracePeriodSeconds"] = parse_int(query["gracePeriodSeconds"])
        if "orphanDependents" in query:
            options["orphanDependents"] = parse_bool(query["orphanDependents"])
        if "propagationPolicy" in query:
            options["propagationPolicy"] = query["propagationPolicy"]
    causes: list[Cause] = []
    policy = options.get("propagationPolicy")
    if options.get("orphanDependents") is not None and policy is not None:
        detail = "orphanDependents and deletionPropagation cannot be both set"
        causes.append(Cause("propagationPolicy", "Invalid value", detail, policy))
    if policy is not None and policy not in ("Foreground", "Background", "Orphan"):
        supported = 'supported values: "Foreground", "Background", "Orphan", "nil"'
        causes.append(Cause("propagationPolicy", "Unsupported value", supported, policy))
    if causes:
        raise options_invalid("DeleteOptions", causes)
    options["dryRun"] = dry_run
    check_dry_run("DELETE", dry_run)
    return options


_JSON_KINDS = {dict: "object", list: "array", str: "string", bool: "bool", int: "number", float: "number"}
_DELETE_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "gracePeriodSeconds": ((int,), "int64"),
    "orphanDependents": ((bool,), "bool"),
    "propagationPolicy": ((str,), "v1.DeletionPropagation"),
    "dryRun": ((list,), "[]string"),
    "preconditions": ((dict,), "v1.Preconditions"),
}


def _decode_delete_options(body: Any) -> dict[str, Any]:
    """The DeleteOptions decoder's refusals, each a 500 with no reason (the decoder's error is not a Status):
    a body that is not an object, a kind other than DeleteOptions, a field of the wrong JSON type. The type
    errors are worded as encoding/json words them (current Kubernetes; 1.20's json-iterator words them its way)."""
    if not isinstance(body, dict):
        struct = (
            'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }'
        )
        why = f"json: cannot unmarshal {_JSON_KINDS.get(type(body), 'value')} into Go value of type {struct}"
        raise KubeError(500, f"couldn't get version/kind; json parse error: {why}", reason="")
    kind = body.get("kind")
    if kind not in (None, "", "DeleteOptions"):
        scheme = go_quote("k8s.io/apimachinery/pkg/apis/meta/internalversion/scheme/register.go:27")
        version = go_quote(str(body.get("apiVersion") or "v1"))
        raise KubeError(
            500, f"no kind {go_quote(str(kind))} is registered for version {version} in scheme {scheme}", ""
        )
    for name, (types, declared) in _DELETE_FIELDS.items():
        value, go_type = body.get(name), declared
        if value is None:
            continue
        wrong = not isinstance(value, types) or isinstance(value, bool) != (bool in types)
        if name == "dryRun" and not wrong and any(not isinstance(item, str) for item in value):
            value, go_type, wrong = next(item for item in value if not isinstance(item, str)), "string", True
        if wrong:
            shown = _JSON_KINDS.get(type(value), "value")
            if go_type == "int64" and isinstance(value, float):
                shown = f"number {value}"
            why = f"json: cannot unmarshal {shown} into Go struct field DeleteOptions.{name} of type {go_type}"
            raise KubeError(500, why, reason="")
    return dict(body)


# ----- continue tokens ----------------------------------------------------------------------------------------------
def encode_continue(rv: int, start: str) -> str:
    """The etcd3 store's token: unpadded base64url of {"v","rv","start"}, start being the last key returned + NUL."""
    token = {"v": "meta.k8s.io/v1", "rv": rv, "start": start + "\x00"}
    return base64.urlsafe_b64encode(json.dumps(token, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    """(rv, start key) of a token, or the 400 `invalid continue token: continue key is not valid: ...`."""
    data = _go_json(_raw_url_decode(token))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _invalid_continue(f"json: cannot unmarshal {_json_kind(data)} into Go value of type etcd3.continueToken")
    version = data.get("v", "")
    if version != "meta.k8s.io/v1":
        raise _invalid_continue(f"server does not recognize this encoded version {go_quote(str(version))}")
    rv, start = data.get("rv", 0), data.get("start", "")
    if not isinstance(rv, int) or rv <= 0:
        raise _invalid_continue("incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    if not isinstance(start, str) or not start:
        raise _invalid_continue("encoded start key empty (version meta.k8s.io/v1)")
    key = start if start.startswith("/") else "/" + start
    if posixpath.normpath(key) != key:  # path.Clean: no climbing out of the listed prefix
        raise _invalid_continue(start)
    return rv, start


def _json_kind(value: Any) -> str:
    return {list: "array", str: "string", bool: "bool"}.get(type(value), "number")


def _invalid_continue(why: str) -> KubeError:
    return bad_request(f"invalid continue token: continue key is not valid: {why}")


def _raw_url_decode(token: str) -> bytes:
    """Go's base64.RawURLEncoding.DecodeString, with its error (the offset of the first illegal byte)."""
    bad = _RAW_URL_ALPHABET.match(token)
    end = bad.end() if bad else 0
    if end < len(token):
        raise _invalid_continue(f"illegal base64 data at input byte {end}")
    if len(token) % 4 == 1:
        raise _invalid_continue(f"illegal base64 data at input byte {len(token) - 1}")
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:  # pragma: no cover - the checks above leave nothing undecodable
        raise _invalid_continue(str(exc)) from exc


def _go_json(raw: bytes) -> Any:
    """json.Unmarshal's outcome, with encoding/json's message for the common failures."""
    stripped = raw.lstrip(b" \t\r\n")
    if not stripped:
        raise _invalid_continue("unexpected end of JSON input")
    try:
        return json.loads(raw)
    except ValueError:
        first = chr(stripped[0])
        if first not in '{["-0123456789tfn':
            raise _invalid_continue(
                f"invalid character {_go_quote_char(first)} looking for beginning of value"
            ) from None
        raise _invalid_continue("unexpected end of JSON input") from None


def _go_quote_char(char: str) -> str:
    """encoding/json's quoteChar: a byte in single quotes, escaped as strconv.Quote would."""
    if char == "'":
        return "'\\''"
    if char == '"':
        return "'\"'"
    return "'" + go_quote(char)[1:-1] + "'"
