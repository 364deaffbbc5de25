"""Kubernetes API adapter: raw JSON requests over the official client's transport and auth.

Everything goes through `KubeClient.request`, which returns the API's JSON as
plain dicts: the core works on the same camelCase objects the API serves and
skips the SDK's model (de)serialisation, which dominates at thousands of pods.
The `kubernetes` package is imported on first use, not at app start.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from shared.config import Settings, get_settings
from shared.errors import ConfigError, ConnectorError, RetryableError, retry_after_seconds

POOL_SIZE = 64
"""Connections kept to the API server: up to 32 invocations run at once in one worker process."""
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"


class KubeApiError(ConnectorError):
    """A non-success answer from the API server, with its Status reason (NotFound, Conflict, ...)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class NotFound(KubeApiError):
    pass


class Conflict(KubeApiError):
    """409: AlreadyExists, a stale resourceVersion, or an unmet delete precondition."""


class Expired(KubeApiError):
    """410: the resourceVersion is older than the server's history; relist."""


class KubeUnavailable(RetryableError):
    """The API server is throttling (429), failing (5xx) or unreachable."""


def _error_from(status: int, body: bytes | str | None, headers: Any = None) -> Exception:
    try:
        payload = json.loads(body or "{}")
    except (ValueError, TypeError):
        payload = {}
    reason = payload.get("reason") or ""
    message = payload.get("message") or (body.decode(errors="replace") if isinstance(body, bytes) else str(body))
    if status == 429 or status >= 500:
        retry_after = retry_after_seconds(headers.get("Retry-After")) if headers is not None else None
        return KubeUnavailable(f"Kubernetes API {status} {reason}: {message}", retry_after=retry_after)
    cls = {404: NotFound, 409: Conflict, 410: Expired}.get(status, KubeApiError)
    return cls(status, reason, message)


class KubeClient:
    """Raw-JSON access to the resources the connector uses."""

    def __init__(self, api_client: Any) -> None:
        self.api_client = api_client

    # -- transport ---------------------------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | tuple[float, float] | None = 30,
    ) -> Any:
        """One API call; returns the decoded JSON body or raises a KubeApiError / KubeUnavailable."""
        from urllib3.exceptions import HTTPError

        headers = {"Accept": "application/json", "Content-Type": content_type}
        try:
            response = self._send(method, path, query=query, headers=headers, body=body, timeout=timeout)
            data = response.read()
        except (HTTPError, OSError) as error:
            raise KubeUnavailable(f"Kubernetes API unreachable: {error}") from None
        return json.loads(data) if data else None

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None,
        headers: dict[str, str],
        body: Any = None,
        timeout: Any = None,
    ) -> Any:
        """Serialise with the client's auth and TLS settings, send, and raise on a non-2xx answer."""
        from kubernetes.client.exceptions import ApiException

        params = [(key, value) for key, value in (query or {}).items() if value is not None]
        try:
            method, url, all_headers, payload, post = self.api_client.param_serialize(
                method, path, query_params=params, header_params=headers, body=body, auth_settings=["BearerToken"]
            )
            response = self.api_client.call_api(
                method, url, header_params=all_headers, body=payload, post_params=post, _request_timeout=timeout
            )
        except ApiException as error:
            raise _error_from(error.status or 0, error.body, error.headers) from None
        if not 200 <= response.status <= 299:
            raise _error_from(response.status, response.read(), response.headers)
        return response

    # -- pods --------------------------------------------------------------------------------------------------------

    def get_pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self.request("GET", _pod_path(namespace, name))
        except NotFound:
            return None

    def list_pods(
        self,
        *,
        field_selector: str | None = None,
        label_selector: str | None = None,
        page_size: int = 500,
    ) -> tuple[list[dict[str, Any]], str]:
        """Every matching pod across namespaces, paged; returns (pods, list resourceVersion)."""
        pods: list[dict[str, Any]] = []
        token: str | None = None
        version = ""
        while True:
            page = self.request(
                "GET",
                "/api/v1/pods",
                query={
                    "fieldSelector": field_selector,
                    "labelSelector": label_selector,
                    "limit": page_size,
                    "continue": token,
                },
            )
            pods.extend(page.get("items") or [])
            metadata = page.get("metadata") or {}
            version = metadata.get("resourceVersion") or version
            token = metadata.get("continue")
            if not token:
                return pods, version

    def patch_pod_status(
        self,
        namespace: str,
        name: str,
        uid: str | None,
        status: dict[str, Any],
        *,
        annotations: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Replace what we own of the status. The uid in the patch makes a re-created pod refuse it.

        `annotations` are merged in by the same write: the pods/status subresource keeps the spec but
        takes metadata labels and annotations (as kube-apiserver does), so no second write is needed.
        """
        body: dict[str, Any] = {"status": status}
        metadata: dict[str, Any] = {}
        if uid:
            metadata["uid"] = uid
        if annotations:
            metadata["annotations"] = annotations
        if metadata:
            body["metadata"] = metadata
        return self.request("PATCH", _pod_path(namespace, name) + "/status", body=body, content_type=MERGE_PATCH)

    def delete_pod_now(self, namespace: str, name: str, uid: str | None) -> bool:
        """Finish a graceful deletion as the kubelet does: grace 0, only this incarnation (uid precondition)."""
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            self.request("DELETE", _pod_path(namespace, name), body=body)
        except NotFound:
            return False
        except Conflict:
            return False  # a newer pod with the same name: not ours to remove
        return True

    # -- namespaced helpers ------------------------------------------------------------------------------------------

    def namespace_uid(self, name: str) -> str | None:
        """The uid of a namespace (kube-system's names the cluster: see shared.tags.cluster_id)."""
        namespace = self.get(f"/api/v1/namespaces/{_q(name)}") or {}
        return (namespace.get("metadata") or {}).get("uid")

    def get_namespaced(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return self.request("GET", f"/api/v1/namespaces/{_q(namespace)}/{resource}/{_q(name)}")
        except NotFound:
            return None

    def create_event(self, namespace: str, event: dict[str, Any]) -> dict[str, Any] | None:
        """Create a core/v1 Event, or bump the count of the one with the same name (de-duplication)."""
        path = f"/api/v1/namespaces/{_q(namespace)}/events"
        try:
            return self.request("POST", path, body=event)
        except Conflict:
            existing = self.request("GET", f"{path}/{_q(event['metadata']['name'])}")
            patch = {
                "count": int(existing.get("count") or 1) + 1,
                "lastTimestamp": event.get("lastTimestamp"),
                "message": event.get("message"),
            }
            return self.request(
                "PATCH", f"{path}/{_q(event['metadata']['name'])}", body=patch, content_type=MERGE_PATCH
            )

    def create_token(self, namespace: str, service_account: str, spec: dict[str, Any]) -> dict[str, Any]:
        """TokenRequest (authentication.k8s.io/v1) for a ServiceAccount; returns its status (token, expiry)."""
        path = f"/api/v1/namespaces/{_q(namespace)}/serviceaccounts/{_q(service_account)}/token"
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
        return (self.request("POST", path, body=body) or {}).get("status") or {}

    # -- cluster-scoped ----------------------------------------------------------------------------------------------

    def get(self, path: str) -> dict[str, Any] | None:
        try:
            return self.request("GET", path)
        except NotFound:
            return None

    def watch(self, path: str, *, query: dict[str, Any], timeout_seconds: int = 300) -> Iterator[dict[str, Any]]:
        """Stream watch events ({type, object}) until the server closes; raises Expired on a 410 ERROR event."""
        from urllib3.exceptions import HTTPError

        params = dict(query)
        params.update({"watch": "true", "timeoutSeconds": timeout_seconds})
        try:
            response = self._send(
                "GET",
                path,
                query=params,
                headers={"Accept": "application/json"},
                timeout=(10, timeout_seconds + 30),
            )
        except (HTTPError, OSError) as error:
            raise KubeUnavailable(f"Kubernetes API unreachable: {error}") from None
        raw = response.response
        ended = False
        try:
            buffer = b""
            for chunk in raw.stream(65536, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        event = json.loads(line)
                        if event.get("type") == "ERROR":
                            status = event.get("object") or {}
                            raise _error_from(int(status.get("code") or 500), json.dumps(status))
                        yield event
            ended = True
        except (HTTPError, OSError) as error:
            raise KubeUnavailable(f"watch stream broke: {error}") from None
        finally:
            if not ended:
                raw.close()  # left mid-stream (the caller stopped reading, or an error): not reusable
            raw.release_conn()


def _q(part: str) -> str:
    return quote(part, safe="")


def _pod_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{_q(namespace)}/pods/{_q(name)}"


def build_api_client(settings: Settings) -> Any:
    """An ApiClient from KUBE_API_URL + token, a kubeconfig, or the in-cluster ServiceAccount."""
    from kubernetes import client, config

    if settings["KUBE_API_URL"]:
        configuration = client.Configuration()
        configuration.connection_pool_maxsize = POOL_SIZE
        configuration.host = settings["KUBE_API_URL"]
        configuration.api_key = {"authorization": settings["KUBE_BEARER_TOKEN"]}
        configuration.api_key_prefix = {"authorization": "Bearer"}
        if settings["KUBE_CA_CERT"]:
            configuration.ssl_ca_cert = _write_ca(settings["KUBE_CA_CERT"])
        return client.ApiClient(configuration)
    if settings["KUBECONFIG"]:
        configuration = client.Configuration()
        config.load_kube_config(
            config_file=settings["KUBECONFIG"],
            context=settings["KUBE_CONTEXT"] or None,
            client_configuration=configuration,
        )
        configuration.connection_pool_maxsize = POOL_SIZE
        return client.ApiClient(configuration)
    if settings["KUBE_IN_CLUSTER"]:
        configuration = client.Configuration()
        configuration.connection_pool_maxsize = POOL_SIZE
        config.load_incluster_config(client_configuration=configuration)
        return client.ApiClient(configuration)
    raise ConfigError("no cluster configured: set KUBE_API_URL, KUBECONFIG or KUBE_IN_CLUSTER")


_ca_files: dict[str, str] = {}
_ca_lock = threading.Lock()


def _write_ca(pem: str) -> str:
    """The client library wants the CA as a file path, read at each new connection: one file per CA for the life of
    the process, removed at exit. A file per client built piled up in /tmp (thousands over a day of test runs)."""
    with _ca_lock:
        path = _ca_files.get(pem)
        if path is not None and os.path.exists(path):
            return path
        handle = tempfile.NamedTemporaryFile("w", suffix=".crt", delete=False)  # noqa: SIM115 - removed at exit
        with handle:
            handle.write(pem)
        _ca_files[pem] = handle.name
        return handle.name


@atexit.register
def _remove_ca_files() -> None:
    for path in _ca_files.values():
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    _ca_files.clear()


_client: KubeClient | None = None
_client_lock = threading.Lock()


def get_kube_client(settings: Settings | None = None) -> KubeClient:
    """The process-wide client, built on first use from the settings."""
    global _client  # noqa: PLW0603 - one connection pool per worker process
    with _client_lock:
        if _client is None:
            _client = KubeClient(build_api_client(settings or get_settings()))
        return _client


def set_kube_client(kube: KubeClient | None) -> None:
    """Replace the process-wide client (tests point it at the fake API server)."""
    global _client  # noqa: PLW0603
    with _client_lock:
        _client = kube
