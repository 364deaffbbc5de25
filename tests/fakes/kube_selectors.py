"""Label and field selectors with the apiserver's grammar, semantics and error messages.

`!=` and `notin` match objects lacking the label (as in Kubernetes), and field selectors only accept the
field labels each resource registers, answering `field label not supported: X` otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes import kube_validate
from tests.fakes.kube_errors import bad_request, go_quote
from tests.fakes.kube_resources import ResourceType

META_FIELDS = frozenset({"metadata.name", "metadata.namespace"})
_SPECIAL = "=!(),><"
_BLANK = " \t\r\n"
_TOKENS = {")", ",", "!", "==", "=", ">", "in", "<", "!=", "notin", "("}
_OPERATORS = {"in", "=", "==", ">", "<", "notin", "!="}
_BINARY = "in, notin, =, ==, !=, gt, lt"
ID, END, ERROR = "identifier", "end", "error"


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


def _lex(text: str) -> list[tuple[str, str]]:
    """labels.Lexer: (token, literal) pairs; special symbols are read greedily, `in`/`notin` are keywords."""
    items: list[tuple[str, str]] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos] in _BLANK:
            pos += 1
        if pos >= len(text):
            items.append((END, ""))
            return items
        if text[pos] in _SPECIAL:
            buffer, last = "", ""
            while pos < len(text) and text[pos] in _SPECIAL:
                if buffer + text[pos] in _TOKENS:
                    last = buffer + text[pos]
                elif last:
                    break
                buffer += text[pos]
                pos += 1
            items.append((last, last) if last else (ERROR, f"error expected: keyword found '{buffer}'"))
            continue
        start = pos
        while pos < len(text) and text[pos] not in _SPECIAL and text[pos] not in _BLANK:
            pos += 1
        word = text[start:pos]
        items.append((word, word) if word in ("in", "notin") else (ID, word))


class _Parser:
    """labels.Parser of current Kubernetes, with its messages (1.20 words three of them differently)."""

    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.pos = 0

    def lookahead(self, values: bool) -> tuple[str, str]:
        tok, lit = self.items[self.pos]
        return (ID, lit) if values and tok in ("in", "notin") else (tok, lit)

    def consume(self, values: bool) -> tuple[str, str]:
        item = self.lookahead(values)
        self.pos += 1
        return item

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self.lookahead(True)
            if tok == END:
                return reqs
            if tok not in (ID, "!"):
                raise bad_request(f"found '{lit}', expected: !, identifier, or 'end of string'")
            try:
                reqs.append(self.requirement())
            except ValueError as exc:
                raise bad_request(f"unable to parse requirement: {exc}") from None
            tok, lit = self.consume(True)
            if tok == END:
                return reqs
            if tok != ",":
                raise bad_request(f"found '{lit}', expected: ',' or 'end of string'")
            tok, lit = self.lookahead(True)
            if tok not in (ID, "!"):
                raise bad_request(f"found '{lit}', expected: identifier after ','")

    def requirement(self) -> Requirement:
        op = ""
        tok, key = self.consume(True)
        if tok == "!":
            op = "!"
            tok, key = self.consume(True)
        if tok != ID:
            raise ValueError(f"found '{key}', expected: identifier")
        problems = kube_validate.is_qualified_name(key)
        if problems:
            raise ValueError(f"<nil>: Invalid value: {go_quote(key)}: {'; '.join(problems)}")
        if self.lookahead(True)[0] in (END, ","):
            return Requirement(key, op or "exists")
        if op == "!":
            return Requirement(key, "!")
        tok, lit = self.consume(False)
        if tok not in _OPERATORS:
            raise ValueError(f"found '{lit}', expected: {_BINARY}")
        values = self.value_set() if tok in ("in", "notin") else self.exact_value()
        return _requirement(key, tok, values)

    def exact_value(self) -> list[str]:
        if self.lookahead(True)[0] in (END, ","):
            return [""]
        tok, lit = self.consume(True)
        if tok != ID:
            raise ValueError(f"found '{lit}', expected: identifier")
        return [lit]

    def value_set(self) -> list[str]:
        tok, lit = self.consume(True)
        if tok != "(":
            raise ValueError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead(True)
        if tok == ")":
            self.consume(True)
            return [""]
        if tok not in (ID, ","):
            raise ValueError(f"found '{lit}', expected: ',', ')' or identifier")
        values = self.identifiers()
        if self.consume(True)[0] != ")":
            raise ValueError(f"found '{lit}', expected: ')'")
        return values

    def identifiers(self) -> list[str]:
        values: list[str] = []
        while True:
            tok, lit = self.consume(True)
            if tok == ID:
                values.append(lit)
                tok2, lit2 = self.lookahead(True)
                if tok2 == ")":
                    return sorted(set(values))
                if tok2 != ",":
                    raise ValueError(f"found '{lit2}', expected: ',' or ')'")
            elif tok == ",":
                if not values:
                    values.append("")
                tok2 = self.lookahead(True)[0]
                if tok2 == ")":
                    values.append("")
                    return sorted(set(values))
                if tok2 == ",":
                    self.consume(True)
                    values.append("")
            else:
                raise ValueError(f"found '{lit}', expected: ',', or identifier")


def _requirement(key: str, op: str, values: list[str]) -> Requirement:
    """labels.NewRequirement's checks, reported as field errors on `values[i]` (current Kubernetes)."""
    errors: list[str] = []
    integer = "for 'Gt', 'Lt' operators, the value must be an integer"
    if op in (">", "<"):
        errors += [
            f"values[{i}]: Invalid value: {go_quote(value)}: {integer}"
            for i, value in enumerate(values)
            if not re.fullmatch(r"[+-]?[0-9]+", value)
        ]
    for i, value in enumerate(values):
        problems = kube_validate.is_label_value(value)
        if problems:
            errors.append(f"values[{i}][{key}]: Invalid value: {go_quote(value)}: {'; '.join(problems)}")
    if errors:
        raise ValueError(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")
    return Requirement(key, op, tuple(values))


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
    """fields.UnescapeValue: a backslash escapes only a backslash, `,` or `=`; a bare `,` or `=` is refused."""
    out: list[str] = []
    escaped = False
    for char in value:
        if escaped:
            if char not in "\\,=":
                raise bad_request(f"invalid field selector: invalid escape sequence: \\{char}")
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",=":
            raise bad_request(f"invalid field selector: unescaped character in value: {ord(char)}")
        else:
            out.append(char)
    if escaped:
        raise bad_request("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse_field_terms(text: str | None) -> list[tuple[str, str, str]]:
    """fields.ParseSelector: terms split on unescaped commas and sorted, empty ones skipped, each split at its
    first operator (`!=`, `==`, `=`) with nothing trimmed, so ` a = b` has the label ` a `."""
    terms: list[tuple[str, str, str]] = []
    for raw in sorted(_split_unescaped(text, ",")) if text else []:
        if not raw:
            continue
        split = next(
            (
                (raw[:i], op, raw[i + len(op) :])
                for i in range(len(raw))
                for op in ("!=", "==", "=")
                if raw.startswith(op, i)
            ),
            None,
        )
        if split is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{raw}'")
        terms.append((split[0], split[1], _unescape(split[2])))
    return terms


def _field_value(obj: dict[str, Any], label: str) -> str:
    """The string the apiserver compares for a field label (missing means empty string)."""
    if label == "source":
        source = (obj.get("source") or {}).get("component") or obj.get("reportingComponent") or ""
        return str(source)
    if label == "spec.hostNetwork":
        return "true" if (obj.get("spec") or {}).get("hostNetwork") else "false"
    if label == "status.podIPs":
        return ""
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
    terms = parse_field_terms(text)
    for label, _op, _value in terms:
        if label in rt.field_labels:
            continue
        if rt.field_labels <= META_FIELDS:  # kinds with no conversion of their own: runtime's default one
            only = '"metadata.name", "metadata.namespace"'
            raise bad_request(f"{go_quote(label)} is not a known field selector: only {only}")
        raise bad_request(f"field label not supported: {label}")

    def predicate(obj: dict[str, Any]) -> bool:
        for label, op, value in terms:
            equal = _field_value(obj, label) == value
            if equal != (op != "!="):
                return False
        return True

    return predicate
