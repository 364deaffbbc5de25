"""Kubernetes `Status` error objects, worded exactly as the apiserver words them.

Clients branch on `reason` and `code` (and people grep the `message`), so a fake that words errors
differently would let code pass here and fail against a real cluster.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tests.fakes.kube_resources import ResourceType

REASONS: dict[int, str] = {
    400: "BadRequest",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class KubeError(Exception):
    """An API error carrying the full Status body the real server would send."""

    def __init__(self, code: int, message: str, reason: str | None = None, details: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = REASONS.get(code, "Unknown") if reason is None else reason
        """An empty reason (StatusReasonUnknown) is left out of the body, as Go's omitempty does."""
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            body["reason"] = self.reason
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def go_quote(text: str) -> str:
    """Go's strconv.Quote (what `%q` prints): double quotes, backslash escapes, \\x/\\u for non-printables."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char in "\a\b\f\n\r\t\v":
            out.append(
                {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v"}[char]
            )
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def not_found(rt: ResourceType, name: str) -> KubeError:
    return KubeError(404, f'{rt.qualified} "{name}" not found', "NotFound", rt.details(name))


def already_exists(rt: ResourceType, name: str) -> KubeError:
    return KubeError(409, f'{rt.qualified} "{name}" already exists', "AlreadyExists", rt.details(name))


def conflict(rt: ResourceType, name: str, why: str, resource: str | None = None) -> KubeError:
    label = resource or rt.qualified
    return KubeError(409, f'Operation cannot be fulfilled on {label} "{name}": {why}', "Conflict", rt.details(name))


STALE = "the object has been modified; please apply your changes to the latest version and try again"


def stale(rt: ResourceType, name: str) -> KubeError:
    return conflict(rt, name, STALE)


def bad_request(message: str) -> KubeError:
    return KubeError(400, message, "BadRequest")


def expired(message: str) -> KubeError:
    return KubeError(410, message, "Expired")


def too_old(rv: int, oldest: int) -> KubeError:
    return expired(f"too old resource version: {rv} ({oldest})")


def too_large(rv: int, current: int) -> KubeError:
    """The watch cache's answer to a resourceVersion it has not reached (after waiting 3 s for it)."""
    details: dict[str, Any] = {
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        "retryAfterSeconds": 1,
    }
    return KubeError(504, f"Timeout: Too large resource version: {rv}, current: {current}", "Timeout", details)


def method_not_allowed() -> KubeError:
    return KubeError(405, "the server does not allow this method on the requested resource", "MethodNotAllowed")


def path_not_found() -> KubeError:
    return KubeError(404, "the server could not find the requested resource", "NotFound", {})


class Cause:
    """One field error; collected so that a single 422 lists every problem, as the real validator does."""

    TYPES: ClassVar[dict[str, str]] = {
        "Required value": "FieldValueRequired",
        "Invalid value": "FieldValueInvalid",
        "Unsupported value": "FieldValueNotSupported",
        "Duplicate value": "FieldValueDuplicate",
        "Forbidden": "FieldValueForbidden",
        "Not found": "FieldValueNotFound",
        "Too long": "FieldValueTooLong",
    }

    def __init__(self, field: str, kind: str, detail: str = "", value: Any = None) -> None:
        self.field = field
        self.kind = kind
        self.detail = detail
        self.value = value

    def text(self) -> str:
        """The cause message: `Required value`, `Invalid value: "X": detail`."""
        if self.kind == "Required value":
            return f"Required value{': ' + self.detail if self.detail else ''}"
        if self.kind in ("Forbidden", "Too long"):
            return f"{self.kind}: {self.detail}"
        if isinstance(self.value, str):
            shown = f'"{self.value}"'
        elif isinstance(self.value, bool):
            shown = str(self.value).lower()
        else:
            shown = "null" if self.value is None else str(self.value)
        return f"{self.kind}: {shown}{': ' + self.detail if self.detail else ''}"

    def as_dict(self) -> dict[str, str]:
        return {"reason": self.TYPES[self.kind], "message": self.text(), "field": self.field}


def invalid(rt: ResourceType, name: str, causes: list[Cause]) -> KubeError:
    """422 Invalid: `Pod "x" is invalid: spec.containers: Required value` (bracketed list when several)."""
    parts = [f"{c.field}: {c.text()}" for c in causes]
    summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details: dict[str, Any] = rt.details(name, kind_style=True)
    details["causes"] = [c.as_dict() for c in causes]
    return KubeError(422, f'{rt.kind} "{name}" is invalid: {summary}', "Invalid", details)
