"""From a kubelet URL's namespace/pod/container to the ACI group and container behind it.

The pod is read from the apiserver (no ARM call) and must be bound to this virtual node:
a kubelet answers 404 for pods it does not run, and so do we. The group name comes from
shared.naming exactly as the worker derived it when it created the group; container names
are the pod's own.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from shared.errors import ConnectorError, RetryableError, ThrottledError
from shared.kube import KubeClient
from shared.naming import container_group_name


@dataclass(frozen=True)
class Target:
    pod: dict[str, Any]
    group: str
    container: str

    @property
    def uid(self) -> str:
        return str((self.pod.get("metadata") or {}).get("uid") or "")


def text_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.HTTPException:
    """A plain-text error answer, as the kubelet writes them."""
    error_class = {
        400: web.HTTPBadRequest,
        401: web.HTTPUnauthorized,
        403: web.HTTPForbidden,
        404: web.HTTPNotFound,
        429: web.HTTPTooManyRequests,
        500: web.HTTPInternalServerError,
        503: web.HTTPServiceUnavailable,
    }[status]
    return error_class(text=message.rstrip("\n") + "\n", headers=headers)


def container_names(pod: dict[str, Any]) -> list[str]:
    spec = pod.get("spec") or {}
    return [c.get("name") or "" for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])]


async def find_pod(kube: KubeClient, node: str, namespace: str, name: str, uid: str | None = None) -> dict[str, Any]:
    """The pod, if it is on `node` (and has `uid` when given); 404 otherwise."""
    pod = await asyncio.to_thread(kube.get_pod, namespace, name)
    if (
        pod is None
        or (pod.get("spec") or {}).get("nodeName") != node
        or (uid and (pod.get("metadata") or {}).get("uid") != uid)
    ):
        raise text_error(404, f'pod "{namespace}/{name}" not found on node {node}')
    return pod


async def resolve(
    kube: KubeClient, node: str, namespace: str, name: str, container: str, *, uid: str | None = None
) -> Target:
    pod = await find_pod(kube, node, namespace, name, uid)
    if container not in container_names(pod):
        raise text_error(404, f'container "{container}" not found in pod "{namespace}/{name}"')
    return Target(pod, container_group_name(pod), container)


def container_status(pod: dict[str, Any] | None, container: str) -> dict[str, Any]:
    status = pod.get("status") or {} if pod else {}
    for item in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        if item.get("name") == container:
            return item
    return {}


def arm_failure(error: ConnectorError, target: Target) -> web.HTTPException:
    """An ARM failure as the HTTP answer a client can act on (retry later, or why it cannot work)."""
    if isinstance(error, ThrottledError):
        wait = str(int(error.retry_after or 10))
        return text_error(429, f"ARM is throttling this subscription; retry in {wait} s", {"Retry-After": wait})
    if isinstance(error, RetryableError):
        return text_error(503, f"ARM unavailable: {error}")
    status = getattr(error, "status", None)
    if status == 404:
        pod = target.pod.get("metadata") or {}
        state = (container_status(target.pod, target.container).get("state") or {}).get("waiting") or {}
        reason = state.get("reason") or "ContainerCreating"
        return text_error(
            400,
            f'container "{target.container}" in pod "{pod.get("namespace")}/{pod.get("name")}" is waiting to '
            f"start: {reason} (ACI has no container group {target.group} yet)",
        )
    return text_error(400, f"ACI refused: {error}")
