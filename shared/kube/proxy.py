"""Credentials of the kube-proxy extension that lets a container group in a virtual network reach Services.

ACI's `kube-proxy` deployment extension (2023-05-01 `properties.extensions`, built by the translation)
runs kube-proxy beside the group's containers; it needs, protected, a kubeconfig. As in
virtual-kubelet azure-aci, the kubeconfig names the API server the connector itself talks to, its CA,
and a token, here from the dedicated ServiceAccount of deploy/base/rbac-kube-proxy.yaml (bound to the
built-in ClusterRole system:node-proxier, exactly what a node's kube-proxy may do), requested with
TokenRequest for SERVICE_ACCOUNT_TOKEN_MAX_SECONDS and shared by the groups this process creates until
a fifth of its lifetime is left. ACI cannot refresh the token inside a running group (see
docs/pod-spec-support.md, Cluster networking).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
_cached: dict[str, tuple[str, float, float]] = {}


def kubeconfig(server: str, ca_pem: str, token: str) -> str:
    """A one-cluster, one-user kubeconfig (JSON is YAML) for kube-proxy."""
    cluster: dict[str, Any] = {"server": server}
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem.encode()).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "cluster", "cluster": cluster}],
        "users": [{"name": "kube-proxy", "user": {"token": token}}],
        "contexts": [{"name": "kube-proxy", "context": {"cluster": "cluster", "user": "kube-proxy"}}],
        "current-context": "kube-proxy",
    }
    return json.dumps(config, separators=(",", ":"))


def kube_proxy_token(kube: Any, account: str, max_seconds: int, clock: Callable[[], float] = time.time) -> str:
    """A token of `account` ("namespace/name"), reused until a fifth of its lifetime is left."""
    namespace, _, name = account.partition("/")
    with _lock:
        cached = _cached.get(account)
        if cached and clock() < cached[2]:
            return cached[0]
    status = kube.create_token(namespace, name, {"expirationSeconds": max_seconds})
    token = status.get("token") or ""
    now = clock()
    with _lock:
        _cached[account] = (token, now, now + max_seconds * 0.8)
    return token


def reset_cache() -> None:
    """Forget the cached token (tests)."""
    with _lock:
        _cached.clear()
