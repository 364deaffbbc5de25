"""TokenReview and SubjectAccessReview for the fake apiserver: what a kubelet in webhook mode asks.

Tests register tokens (token -> user, groups) and grants (user or group, verb, `nodes/<sub>`,
node name or "*"). Answers have the shape of authentication.k8s.io/v1 and
authorization.k8s.io/v1 (status.authenticated/user; status.allowed/denied/reason); the real
kube-apiserver (issue 12's tests) is the judge of the exact bodies.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


@dataclass
class Reviews:
    tokens: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    grants: set[tuple[str, str, str, str]] = field(default_factory=set)
    """(user or group, verb, resource/subresource, name or '*')."""
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_token(self, token: str, user: str, groups: tuple[str, ...] = ("system:authenticated",)) -> None:
        self.tokens[token] = (user, groups)

    def grant(self, who: str, verb: str, resource: str, name: str = "*") -> None:
        self.grants.add((who, verb, resource, name))

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """The review with its status filled in; None when `path` is not a review endpoint."""
        if path not in (TOKEN_REVIEWS, ACCESS_REVIEWS):
            return None
        with self.lock:
            self.calls.append(path.rsplit("/", 1)[1])
        spec = body.get("spec") or {}
        out = dict(body)
        if path == TOKEN_REVIEWS:
            found = self.tokens.get(str(spec.get("token") or ""))
            out["status"] = (
                {"authenticated": True, "user": {"username": found[0], "uid": "", "groups": list(found[1])}}
                if found
                else {"authenticated": False, "error": "invalid bearer token"}
            )
            return out
        attributes = spec.get("resourceAttributes") or {}
        resource = attributes.get("resource", "")
        if attributes.get("subresource"):
            resource += "/" + attributes["subresource"]
        who = [spec.get("user") or "", *(spec.get("groups") or [])]
        allowed = any(
            (subject, attributes.get("verb"), resource, name) in self.grants
            for subject in who
            for name in (attributes.get("name") or "", "*")
        )
        out["status"] = {"allowed": allowed, "reason": "granted by test" if allowed else ""}
        return out
