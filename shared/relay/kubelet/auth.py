"""Who is asking and may they: the kubelet's webhook authentication and authorization, with its caches.

Authentication: a client certificate the TLS layer verified against the cluster CA (user =
CommonName, groups = Organizations, as the apiserver's kubelet client certificate carries
them), else `Authorization: Bearer` checked with a TokenReview. Neither: 401.

Authorization: one SubjectAccessReview per (user, verb, subresource, node), with the
kubelet's mapping of paths to `nodes` subresources (/stats -> stats, /metrics -> metrics,
/logs -> log, /spec -> spec, everything else including /containerLogs, /exec and /pods ->
proxy) and of HTTP methods to verbs. Allowed answers are cached 5 minutes and denials 30
seconds, token reviews 2 minutes: the kubelet's defaults, so a scrape every 15 s or a
follow that reconnects costs the apiserver almost nothing. Denied: 403.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared.kube import KubeClient

TOKEN_TTL = 120.0
ALLOWED_TTL = 300.0
DENIED_TTL = 30.0
CACHE_LIMIT = 10_000
"""Entries kept per cache; beyond it the cache is emptied (a flood of distinct tokens cannot grow memory)."""

VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
SUBRESOURCES = (("/stats", "stats"), ("/metrics", "metrics"), ("/logs", "log"), ("/spec", "spec"))


@dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


def request_attributes(method: str, path: str) -> tuple[str, str]:
    """(verb, subresource of nodes) the kubelet checks for an HTTP request."""
    verb = VERBS.get(method.upper(), method.lower())
    for prefix, subresource in SUBRESOURCES:
        if path == prefix or path.startswith(prefix + "/"):
            return verb, subresource
    return verb, "proxy"


@dataclass
class _Cache:
    entries: dict[Any, tuple[float, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: Any, now: float) -> Any:
        with self.lock:
            hit = self.entries.get(key)
            if hit is None or hit[0] <= now:
                return None
            return hit[1]

    def put(self, key: Any, value: Any, expires: float) -> None:
        with self.lock:
            if len(self.entries) >= CACHE_LIMIT:
                self.entries.clear()
            self.entries[key] = (expires, value)


class Gate:
    """Authenticates and authorizes kubelet API requests through the apiserver's review APIs."""

    def __init__(self, kube: KubeClient, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.kube = kube
        self.clock = clock
        self._tokens = _Cache()
        self._decisions = _Cache()
        self.reviews = {"token": 0, "access": 0}
        """Review API calls made (tests and /metrics read them to show the caches work)."""

    def authenticate(self, cert_identity: tuple[str, list[str]] | None, authorization: str | None) -> Identity | None:
        """The verified certificate's identity, else the bearer token's; None when neither proves anyone."""
        if cert_identity is not None:
            return Identity(cert_identity[0], tuple(cert_identity[1]))
        if not authorization or not authorization.lower().startswith("bearer "):
            return None
        token = authorization[7:].strip()
        if not token:
            return None
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self.clock()
        cached = self._tokens.get(key, now)
        if cached is not None:
            return cached or None
        identity = self._review_token(token)
        self._tokens.put(key, identity or False, now + (TOKEN_TTL if identity else DENIED_TTL))
        return identity

    def _review_token(self, token: str) -> Identity | None:
        self.reviews["token"] += 1
        review = self.kube.request(
            "POST",
            "/apis/authentication.k8s.io/v1/tokenreviews",
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}},
        )
        status = (review or {}).get("status") or {}
        user = status.get("user") or {}
        if not status.get("authenticated") or not user.get("username"):
            return None
        extra = tuple(sorted((k, tuple(v or ())) for k, v in (user.get("extra") or {}).items()))
        return Identity(user["username"], tuple(user.get("groups") or ()), str(user.get("uid") or ""), extra)

    def authorize(self, identity: Identity, verb: str, subresource: str, node: str) -> Decision:
        key = (identity, verb, subresource, node)
        now = self.clock()
        cached = self._decisions.get(key, now)
        if cached is not None:
            return cached
        decision = self._review_access(identity, verb, subresource, node)
        self._decisions.put(key, decision, now + (ALLOWED_TTL if decision.allowed else DENIED_TTL))
        return decision

    def _review_access(self, identity: Identity, verb: str, subresource: str, node: str) -> Decision:
        self.reviews["access"] += 1
        spec: dict[str, Any] = {
            "user": identity.user,
            "groups": list(identity.groups),
            "resourceAttributes": {
                "verb": verb,
                "group": "",
                "version": "v1",
                "resource": "nodes",
                "subresource": subresource,
                "name": node,
            },
        }
        if identity.uid:
            spec["uid"] = identity.uid
        if identity.extra:
            spec["extra"] = {k: list(v) for k, v in identity.extra}
        review = self.kube.request(
            "POST",
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            body={"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec},
        )
        status = (review or {}).get("status") or {}
        return Decision(bool(status.get("allowed")) and not status.get("denied"), str(status.get("reason") or ""))


def forbidden_message(identity: Identity, verb: str, subresource: str, node: str) -> str:
    """The kubelet's own wording, so operators recognise it."""
    return f"Forbidden (user={identity.user}, verb={verb}, resource=nodes, subresource={subresource}) on node {node}"
