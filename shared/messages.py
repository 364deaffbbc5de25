"""Queue message schema v1: what every producer puts on `pod-events` and the worker reads.

Messages are level-triggered hints, not commands to replay: the worker re-reads
the pod when a cluster is configured, so a stale or duplicated message is
harmless. The inline `manifest` is the source of truth only in standalone mode.
The queue carries plain UTF-8 JSON (host.json `messageEncoding: none`), so
`az storage message put --content '{...}'` and every SDK producer agree.
docs/messages.md documents the schema with examples.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from shared.errors import InvalidMessage

SCHEMA_VERSION = 1
OPERATIONS = ("upsert", "delete", "sync")
SOURCES = ("watch", "audit", "eventgrid", "cli", "reconcile", "worker")
MAX_MESSAGE_BYTES = 64 * 1024
"""Azure Storage's limit on one message, as stored."""
SAFE_MESSAGE_BYTES = MAX_MESSAGE_BYTES - 1024
"""What we allow ourselves: a margin for XML escaping of `&`, `<`, `>` on the wire."""
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_DEPTH = 64
"""Deepest JSON nesting accepted: real Pods stay under 20 levels; deeper input only exhausts recursion later."""
MAX_ATTEMPT = 10_000
MAX_UID_LENGTH = 128
SHOWN_CHARS = 80
"""How much of an offending value an error message quotes: the reason stays small whatever the input."""

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_KNOWN_FIELDS = {
    "v",
    "op",
    "pod",
    "node",
    "source",
    "resourceVersion",
    "ts",
    "manifest",
    "group",
    "attempt",
    "manifestOmitted",
}


def utc_now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class PodRef:
    """Which pod a message is about; uid pins one incarnation of a namespace/name."""

    namespace: str
    name: str
    uid: str | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def to_json(self) -> dict[str, str]:
        out = {"namespace": self.namespace, "name": self.name}
        if self.uid:
            out["uid"] = self.uid
        return out


@dataclass(frozen=True)
class Message:
    """One v1 message. `pod` is required except for a `sync` that names only a `group`."""

    op: str
    pod: PodRef | None
    source: str
    node: str | None = None
    resource_version: str | None = None
    ts: str = field(default_factory=utc_now_text)
    manifest: dict[str, Any] | None = None
    group: str | None = None
    attempt: int = 0
    manifest_omitted: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"v": SCHEMA_VERSION, "op": self.op, "source": self.source, "ts": self.ts}
        if self.pod is not None:
            out["pod"] = self.pod.to_json()
        for key, value in (
            ("node", self.node),
            ("resourceVersion", self.resource_version),
            ("group", self.group),
            ("manifest", self.manifest),
        ):
            if value is not None:
                out[key] = value
        if self.attempt:
            out["attempt"] = self.attempt
        if self.manifest_omitted:
            out["manifestOmitted"] = True
        return out

    def to_text(self) -> str:
        """The queue text, at most SAFE_MESSAGE_BYTES: trims, then drops, an oversized manifest."""
        return _fit(self).encoded()

    def encoded(self) -> str:
        return json.dumps(self.to_json(), separators=(",", ":"), ensure_ascii=False)

    def next_attempt(self) -> Message:
        """The re-queued copy: `ts` stays the producer's, so it still orders against a later delete."""
        return replace(self, attempt=self.attempt + 1)


def trim_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """Drop what the worker never needs and what makes manifests big: managedFields, last-applied, status."""
    trimmed = copy.deepcopy(manifest)
    metadata = trimmed.get("metadata")
    if isinstance(metadata, dict):
        metadata.pop("managedFields", None)
        annotations = metadata.get("annotations")
        if isinstance(annotations, dict):
            annotations.pop(LAST_APPLIED, None)
    trimmed.pop("status", None)
    return trimmed


def _size(message: Message) -> int:
    """Counted as Storage counts it: a manifest full of `&`, `<`, `>` grows by XML escaping on the wire."""
    return wire_bytes(message.encoded())


def _fit(message: Message) -> Message:
    if message.manifest is None or _size(message) <= SAFE_MESSAGE_BYTES:
        return message
    trimmed = replace(message, manifest=trim_manifest(message.manifest))
    if _size(trimmed) <= SAFE_MESSAGE_BYTES:
        return trimmed
    return replace(message, manifest=None, manifest_omitted=True)


def show(value: Any) -> str:
    """repr of a value for an error message, cut to SHOWN_CHARS: a 60 KB bad value yields a short reason."""
    try:
        text = repr(value) if not isinstance(value, (dict, list)) else f"a JSON {type(value).__name__}"
    except ValueError:  # an int too large to render
        text = f"a {type(value).__name__} too large to show"
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


def wire_bytes(text: str) -> int:
    """Bytes of `text` as Storage receives it: UTF-8 inside XML, where &, < and > are escaped."""
    return len(text.encode("utf-8", "replace")) + 4 * text.count("&") + 3 * (text.count("<") + text.count(">"))


def pod_ref_from_manifest(manifest: dict[str, Any]) -> PodRef:
    metadata = manifest.get("metadata") or {}
    return PodRef(
        namespace=metadata.get("namespace") or "default",
        name=metadata.get("name", ""),
        uid=metadata.get("uid"),
    )


def parse_message(text: str | bytes) -> Message:
    """Validate queue text into a Message; `InvalidMessage` names the first bad field.

    Total: whatever the text, the only exception is InvalidMessage, and its reason is short.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidMessage(f"message is not UTF-8 text: {error}") from None
    if not isinstance(text, str):
        raise InvalidMessage(f"message must be text, got {type(text).__name__}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidMessage(f"message is not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise InvalidMessage(f"message is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:  # e.g. an integer with more digits than Python converts
        raise InvalidMessage(f"message is not usable JSON: {show(str(error))}") from None
    _check_json(data)
    if not isinstance(data, dict):
        raise InvalidMessage(f"message must be a JSON object, got {type(data).__name__}")
    version = data.get("v")
    if type(version) is not int or version != SCHEMA_VERSION:
        raise InvalidMessage(
            f"field v: unsupported schema version {show(version)}, expected {SCHEMA_VERSION}", field="v"
        )
    unknown = sorted(set(data) - _KNOWN_FIELDS)
    if unknown:
        name = unknown[0][:SHOWN_CHARS]
        raise InvalidMessage(f"field {name}: unknown field", field=name)
    op = _choice(data, "op", OPERATIONS)
    source = _choice(data, "source", SOURCES)
    manifest = _optional_manifest(data)
    pod = _optional_pod(data)
    if pod is None and manifest is not None:
        pod = _manifest_ref(manifest)
    group = _optional_text(data, "group")
    if group is not None and not _DNS_LABEL.match(group):
        raise InvalidMessage(f"field group: not a container group name: {show(group)}", field="group")
    if pod is None and not (op == "sync" and group):
        raise InvalidMessage("field pod: required (only a sync message may name just a group)", field="pod")
    if manifest is not None and pod is not None:
        _check_manifest_matches(manifest, pod)
    node = _optional_text(data, "node")
    if node is not None and not _DNS_SUBDOMAIN.match(node):
        raise InvalidMessage(f"field node: not a node name: {show(node)}", field="node")
    attempt = data.get("attempt", 0)
    if type(attempt) is not int or not 0 <= attempt <= MAX_ATTEMPT:
        raise InvalidMessage(
            f"field attempt: expected an integer 0-{MAX_ATTEMPT}, got {show(attempt)}", field="attempt"
        )
    omitted = data.get("manifestOmitted", False)
    if not isinstance(omitted, bool):
        raise InvalidMessage("field manifestOmitted: expected true or false", field="manifestOmitted")
    ts = _optional_text(data, "ts") or utc_now_text()
    _check_timestamp(ts)
    return Message(
        op=op,
        pod=pod,
        source=source,
        node=node,
        resource_version=_optional_text(data, "resourceVersion"),
        ts=ts,
        manifest=manifest,
        group=group,
        attempt=attempt,
        manifest_omitted=omitted,
    )


def _choice(data: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    value = data.get(name)
    if value not in allowed:
        raise InvalidMessage(f"field {name}: expected one of {', '.join(allowed)}, got {show(value)}", field=name)
    return value


def _optional_text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidMessage(f"field {name}: expected a non-empty string, got {show(value)}", field=name)
    return value


def _optional_pod(data: dict[str, Any]) -> PodRef | None:
    raw = data.get("pod")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidMessage("field pod: expected an object with namespace, name and optional uid", field="pod")
    extra = sorted(set(raw) - {"namespace", "name", "uid"})
    if extra:
        raise InvalidMessage(f"field pod.{extra[0]}: unknown field", field=f"pod.{extra[0]}")
    for key in ("namespace", "name"):
        if not isinstance(raw.get(key), str):
            raise InvalidMessage(f"field pod.{key}: required string", field=f"pod.{key}")
    ref = PodRef(raw["namespace"], raw["name"], _uid(raw.get("uid"), "pod.uid"))
    _check_pod_ref(ref, "pod")
    return ref


def _uid(uid: Any, where: str) -> str | None:
    if uid is not None and (not isinstance(uid, str) or not 0 < len(uid) <= MAX_UID_LENGTH or not uid.isprintable()):
        raise InvalidMessage(
            f"field {where}: expected a printable string of 1-{MAX_UID_LENGTH} characters, got {show(uid)}", field=where
        )
    return uid


def _manifest_ref(manifest: dict[str, Any]) -> PodRef:
    """The pod an inline manifest names, checked field by field (metadata may be anything in hostile input)."""
    metadata = manifest.get("metadata")
    if not isinstance(metadata, dict):
        raise InvalidMessage("field manifest.metadata: expected an object with name", field="manifest.metadata")
    for key in ("namespace", "name"):
        value = metadata.get(key)
        if not (value is None and key == "namespace") and not isinstance(value, str):
            raise InvalidMessage(
                f"field manifest.metadata.{key}: expected a string, got {show(value)}", field=f"manifest.metadata.{key}"
            )
    ref = PodRef(
        metadata.get("namespace") or "default", metadata["name"], _uid(metadata.get("uid"), "manifest.metadata.uid")
    )
    _check_pod_ref(ref, "manifest.metadata")
    return ref


def _check_pod_ref(ref: PodRef, where: str) -> None:
    if not _DNS_LABEL.match(ref.namespace):
        raise InvalidMessage(
            f"field {where}.namespace: not a valid namespace: {show(ref.namespace)}", field=f"{where}.namespace"
        )
    if not _DNS_SUBDOMAIN.match(ref.name):
        raise InvalidMessage(f"field {where}.name: not a valid pod name: {show(ref.name)}", field=f"{where}.name")


def _optional_manifest(data: dict[str, Any]) -> dict[str, Any] | None:
    manifest = data.get("manifest")
    if manifest is None:
        return None
    if not isinstance(manifest, dict):
        raise InvalidMessage("field manifest: expected a Pod object", field="manifest")
    if manifest.get("kind") != "Pod":
        raise InvalidMessage(
            f"field manifest.kind: expected Pod, got {show(manifest.get('kind'))}", field="manifest.kind"
        )
    if manifest.get("apiVersion") != "v1":
        raise InvalidMessage(
            f"field manifest.apiVersion: expected v1, got {show(manifest.get('apiVersion'))}",
            field="manifest.apiVersion",
        )
    spec = manifest.get("spec")
    if not isinstance(spec, dict) or not isinstance(spec.get("containers"), list) or not spec["containers"]:
        raise InvalidMessage(
            "field manifest.spec.containers: required, at least one container", field="manifest.spec.containers"
        )
    return manifest


def _check_manifest_matches(manifest: dict[str, Any], pod: PodRef) -> None:
    inline = _manifest_ref(manifest)
    if (inline.namespace, inline.name) != (pod.namespace, pod.name):
        raise InvalidMessage(
            f"field manifest.metadata: names {inline.key} but field pod names {pod.key}", field="manifest.metadata"
        )


def _check_timestamp(ts: str) -> None:
    try:
        datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidMessage(f"field ts: not an RFC 3339 timestamp: {show(ts)}", field="ts") from None


def _check_json(data: Any) -> None:
    """Nesting within MAX_DEPTH and every string (keys too) valid Unicode: no lone surrogates, which
    json.loads accepts from `\\ud800` escapes but which crash any later encode (names, tags, logs)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise InvalidMessage(f"message is nested deeper than {MAX_DEPTH} levels")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    _check_text(key)
                stack.append((item, depth + 1))


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidMessage(
            f"message holds a string that is not valid Unicode (lone surrogate): {show(text)}"
        ) from None


def upsert(pod: dict[str, Any], *, source: str, inline: bool = False) -> Message:
    """An upsert hint for a Pod object; `inline` carries the manifest (standalone mode, CLI)."""
    return _for_pod("upsert", pod, source=source, inline=inline)


def delete(pod: dict[str, Any], *, source: str, inline: bool = False) -> Message:
    return _for_pod("delete", pod, source=source, inline=inline)


def _for_pod(op: str, pod: dict[str, Any], *, source: str, inline: bool) -> Message:
    metadata = pod.get("metadata") or {}
    return Message(
        op=op,
        pod=pod_ref_from_manifest(pod),
        source=source,
        node=(pod.get("spec") or {}).get("nodeName"),
        resource_version=metadata.get("resourceVersion"),
        manifest=trim_manifest(pod) if inline else None,
    )
