"""Kubernetes adapter: API client (raw JSON), Lease renewal, pod Events; the client's names are re-exported here."""

from shared.kube.client import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    Conflict,
    Expired,
    KubeApiError,
    KubeClient,
    KubeUnavailable,
    NotFound,
    build_api_client,
    get_kube_client,
    set_kube_client,
)

__all__ = [
    "JSON_PATCH",
    "MERGE_PATCH",
    "STRATEGIC_MERGE_PATCH",
    "Conflict",
    "Expired",
    "KubeApiError",
    "KubeClient",
    "KubeUnavailable",
    "NotFound",
    "build_api_client",
    "get_kube_client",
    "set_kube_client",
]
