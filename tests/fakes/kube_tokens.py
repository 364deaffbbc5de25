"""TokenRequest (POST .../serviceaccounts/<name>/token) as kube-apiserver 1.32 answers it.

The token is a JWT with the claims a real bound token carries (aud, exp, iat, iss, nbf, sub and the
`kubernetes.io` claim naming namespace, pod and service account); its signature is not a real RS256
signature, which no client checks (only the apiserver does, and `review` plays that part here).
Validation and messages follow the apiserver: at least 10 minutes, the bound object must be a Pod of
the same namespace whose uid matches, and `max_seconds` caps the lifetime as
--service-account-max-token-expiration does. With `extend` (the default of
--service-account-extend-token-expiration) a token asked for 3607 s with the API audience carries a
one-year `exp` and a `warnafter` claim, while status.expirationTimestamp still says 3607 s.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from tests.fakes.kube_errors import Cause, KubeError, invalid, not_found
from tests.fakes.kube_resources import resolve

ISSUER = "https://kubernetes.default.svc.cluster.local"
DEFAULT_AUDIENCES = [ISSUER]
DEFAULT_SECONDS = 3600
MIN_SECONDS = 600
LEGACY_SECONDS = 3607
EXTENDED_SECONDS = 365 * 24 * 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token_request(
    get: Callable[[str, str | None, str], dict[str, Any]],
    namespace: str,
    name: str,
    body: Any,
    *,
    max_seconds: int | None = None,
    extend: bool = True,
    now: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """The TokenRequest answered with status.token; `get(resource, namespace, name)` reads the store."""
    sa_type = resolve("serviceaccounts")
    account = get("serviceaccounts", namespace, name)
    spec = (body or {}).get("spec") if isinstance(body, dict) else None
    if not isinstance(spec, dict):
        raise invalid(sa_type, name, [Cause("spec", "Required value")])
    seconds = spec.get("expirationSeconds", DEFAULT_SECONDS)
    if not isinstance(seconds, int) or seconds < MIN_SECONDS:
        detail = "may not specify a duration less than 10 minutes"
        raise KubeError(
            422,
            f'TokenRequest.authentication.k8s.io "{name}" is invalid: spec.expirationSeconds: '
            f"Invalid value: {seconds}: {detail}",
            "Invalid",
        )
    if max_seconds is not None:
        seconds = min(seconds, max_seconds)
    audiences = list(spec.get("audiences") or DEFAULT_AUDIENCES)
    lifetime = seconds
    if extend and seconds == LEGACY_SECONDS and audiences == DEFAULT_AUDIENCES:
        lifetime = EXTENDED_SECONDS  # --service-account-extend-token-expiration: the JWT lives a year
    claims: dict[str, Any] = {
        "namespace": namespace,
        "serviceaccount": {"name": name, "uid": account["metadata"]["uid"]},
    }
    bound = spec.get("boundObjectRef")
    if bound:
        kind, bound_name = bound.get("kind"), bound.get("name") or ""
        if kind not in ("Pod", "Secret", "Node"):
            raise KubeError(400, f"cannot bind token for object of kind {kind!r}", "BadRequest")
        plural = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}[kind]
        obj = get(plural, None if kind == "Node" else namespace, bound_name)
        uid = obj["metadata"]["uid"]
        if bound.get("uid") and bound["uid"] != uid:
            raise KubeError(
                409,
                f"the UID in the bound object reference ({bound['uid']}) does not match the UID in record. "
                "The object might have been deleted and then recreated",
                "Conflict",
            )
        claims[kind.lower()] = {"name": bound_name, "uid": uid}
    issued = int(now())
    if lifetime != seconds:
        claims["warnafter"] = issued + seconds
    payload = {
        "aud": audiences,
        "exp": issued + lifetime,
        "iat": issued,
        "iss": ISSUER,
        "jti": str(uuid.uuid4()),
        "kubernetes.io": claims,
        "nbf": issued,
        "sub": f"system:serviceaccount:{namespace}:{name}",
    }
    header = {"alg": "RS256", "kid": "fake-apiserver"}
    token = ".".join((_b64(json.dumps(header).encode()), _b64(json.dumps(payload).encode()), _b64(b"fake-signature")))
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(issued + seconds))
    return {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
        "spec": {**spec, "audiences": audiences, "expirationSeconds": seconds, "boundObjectRef": bound},
        "status": {"token": token, "expirationTimestamp": expires},
    }


def claims_of(token: str) -> dict[str, Any]:
    """The payload of a token this fake issued (tests read the binding and expiry from it)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


__all__ = ["DEFAULT_AUDIENCES", "ISSUER", "claims_of", "not_found", "token_request"]
