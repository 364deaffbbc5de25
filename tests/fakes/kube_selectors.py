"""Label and field selectors with the apiserver's grammar, semantics and error messages.

`!=` and `notin` match objects lacking the label (as in Kubernetes), and field selectors only accept the
field labels each resource registers, answering `field label not supported: X` otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes.kube_errors import bad_request
from tests.fakes.kube_resources import ResourceType

_TOKEN = re.compile(r"\s*(\(|\)|,|==|=|!=|!|>|<|[^\s,()=!<>]+)")


@dataclass(frozen=True)
class Requirement:
    """One label requirement: key, operator and values."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        has = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return has
        if self.op == "!":
            return not has
        if self.op in ("=", "==", "in"):
            return has and value in self.values
        if self.op in ("!=", "notin"):
            return not has or value not in self.values
        if self.op in (">", "<"):
            return _compare(value, self.op, self.values[0])
        raise AssertionError(self.op)


def _compare(value: str | None, op: str, bound: str) -> bool:
    if value is None:
        return False
    try:
        number = int(value)
    except ValueError:
        return False
    return number > int(bound) if op == ">" else number < int(bound)


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise bad_request(f"unable to parse requirement: invalid character at {pos} in {text!r}")
        out.append(match.group(1))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise self.error("found '', expected: identifier")
        self.pos += 1
        return tok

    def error(self, what: str) -> Exception:
        return bad_request(f"unable to parse requirement: {what}")

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while self.peek() is not None:
            reqs.append(self.requirement())
            tok = self.peek()
            if tok is None:
                break
            if tok != ",":
                raise self.error(f"found '{tok}', expected: ',' or 'end of string'")
            self.pos += 1
            if self.peek() is None:
                raise self.error("found '', expected: !, identifier, or 'end of string'")
        return reqs

    def requirement(self) -> Requirement:
        tok = self.take()
        if tok == "!":
            return Requirement(self.key(self.take()), "!")
        key = self.key(tok)
        op = self.peek()
        if op is None or op == ",":
            return Requirement(key, "exists")
        self.pos += 1
        if op in ("=", "==", "!="):
            value = self.peek()
            if value is None or value == ",":
                return Requirement(key, op, ("",))
            self.pos += 1
            return Requirement(key, op, (self.value(value),))
        if op in (">", "<"):
            bound = self.take()
            if not re.fullmatch(r"-?\d+", bound):
                raise self.error(f"for 'Gt', 'Lt' operators, the value must be an integer: {bound}")
            return Requirement(key, op, (bound,))
        if op in ("in", "notin"):
            return Requirement(key, op, self.value_set())
        raise self.error(f"found '{op}', expected: in, notin, =, ==, !=, gt, lt")

    def value_set(self) -> tuple[str, ...]:
        if self.take() != "(":
            raise self.error("found '', expected: '('")
        values: list[str] = []
        while True:
            tok = self.take()
            if tok == ")":
                return tuple(values)
            if tok == ",":
                continue
            values.append(self.value(tok))

    def key(self, tok: str) -> str:
        if tok in ("(", ")", ",", "=", "==", "!=", "!", ">", "<") or not _valid_key(tok):
            raise self.error(f"found '{tok}', expected: identifier")
        return tok

    def value(self, tok: str) -> str:
        if tok in ("(", ")", ",", "=", "==", "!=", "!", ">", "<") or not re.fullmatch(r"[A-Za-z0-9._-]{0,63}", tok):
            raise bad_request(f"unable to parse requirement: invalid label value: {tok!r}")
        return tok


def _valid_key(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and not re.fullmatch(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", prefix):
        return False
    return bool(re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?", name))


def parse_label_selector(text: str | None) -> Callable[[dict[str, Any]], bool]:
    """Compile a labelSelector query value into a predicate on an object."""
    if not text:
        return lambda _obj: True
    reqs = _Parser(text).parse()

    def predicate(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(req.matches(labels) for req in reqs)

    return predicate


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def _field_value(obj: dict[str, Any], label: str) -> str:
    """The string the apiserver compares for a field label (missing means empty string)."""
    if label == "source":
        source = (obj.get("source") or {}).get("component") or obj.get("reportingComponent") or ""
        return str(source)
    if label == "spec.hostNetwork":
        return "true" if (obj.get("spec") or {}).get("hostNetwork") else "false"
    if label == "spec.unschedulable":
        return "true" if (obj.get("spec") or {}).get("unschedulable") else "false"
    node: Any = obj
    for part in label.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return "" if node is None else str(node)


def parse_field_selector(text: str | None, rt: ResourceType) -> Callable[[dict[str, Any]], bool]:
    """Compile a fieldSelector for a resource; unknown labels are a 400 like the real server."""
    if not text:
        return lambda _obj: True
    terms: list[tuple[str, str, str]] = []
    for raw in _split_unescaped(text, ","):
        match = re.fullmatch(r"([^=!]+?)\s*(==|=|!=)\s*(.*)", raw.strip())
        if match is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{raw}'")
        label, op, value = match.group(1).strip(), match.group(2), _unescape(match.group(3))
        if label not in rt.field_labels:
            raise bad_request(f"field label not supported: {label}")
        terms.append((label, op, value))

    def predicate(obj: dict[str, Any]) -> bool:
        for label, op, value in terms:
            equal = _field_value(obj, label) == value
            if equal != (op != "!="):
                return False
        return True

    return predicate
