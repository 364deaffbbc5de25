"""The fake apiserver's TokenRequest and PersistentVolume(Claim) endpoints, through the official client."""

from __future__ import annotations

import json

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.fakes.kube_api import KubeApiServer
from tests.fakes.kube_tokens import ISSUER, claims_of


def _message(error: ApiException) -> str:
    return json.loads(error.body)["message"]


def _pod(name: str = "web") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "nginx"}], "serviceAccountName": "app"},
    }


def _request(pod: dict, **spec: object) -> client.AuthenticationV1TokenRequest:
    bound = {"kind": "Pod", "apiVersion": "v1", "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]}
    return client.AuthenticationV1TokenRequest(spec={"audiences": None, "boundObjectRef": bound, **spec})


def test_token_bound_to_a_pod(kube_api: KubeApiServer, kube_client: client.ApiClient) -> None:
    kube_api.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app", "namespace": "default"}})
    pod = kube_api.create(_pod())
    core = client.CoreV1Api(kube_client)
    answer = core.create_namespaced_service_account_token("app", "default", _request(pod, expiration_seconds=7200))
    claims = claims_of(answer.status.token)
    assert claims["aud"] == [ISSUER]
    assert claims["exp"] - claims["iat"] == 7200
    assert claims["sub"] == "system:serviceaccount:default:app"
    assert claims["kubernetes.io"]["pod"] == {"name": "web", "uid": pod["metadata"]["uid"]}
    assert answer.status.expiration_timestamp is not None


def test_token_errors_match_the_apiserver(kube_api: KubeApiServer, kube_client: client.ApiClient) -> None:
    core = client.CoreV1Api(kube_client)
    pod = kube_api.create(_pod())
    with pytest.raises(ApiException) as missing:
        core.create_namespaced_service_account_token("app", "default", _request(pod))
    assert missing.value.status == 404 and _message(missing.value) == 'serviceaccounts "app" not found'
    kube_api.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app", "namespace": "default"}})
    with pytest.raises(ApiException) as short:
        core.create_namespaced_service_account_token("app", "default", _request(pod, expiration_seconds=60))
    assert short.value.status == 422 and "less than 10 minutes" in _message(short.value)
    stale = {**pod, "metadata": {**pod["metadata"], "uid": "00000000-0000-0000-0000-000000000001"}}
    with pytest.raises(ApiException) as conflict:
        core.create_namespaced_service_account_token("app", "default", _request(stale))
    assert conflict.value.status == 409 and "might have been deleted and then recreated" in _message(conflict.value)


@pytest.mark.fake_kube_only(
    "sets the fake's token lifetime cap; the real one runs without --service-account-max-token-expiration"
)
def test_max_token_expiration_caps_the_lifetime(kube_api: KubeApiServer, kube_client: client.ApiClient) -> None:
    if not isinstance(kube_api, KubeApiServer):
        pytest.skip("--service-account-max-token-expiration is a start flag of the real server; the fake's knob")
    kube_api.max_token_seconds = 3600
    kube_api.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app", "namespace": "default"}})
    pod = kube_api.create(_pod())
    answer = client.CoreV1Api(kube_client).create_namespaced_service_account_token(
        "app", "default", _request(pod, expiration_seconds=86400)
    )
    claims = claims_of(answer.status.token)
    assert claims["exp"] - claims["iat"] == 3600


def test_persistent_volumes_and_claims(kube_api: KubeApiServer, kube_client: client.ApiClient) -> None:
    core = client.CoreV1Api(kube_client)
    core.create_persistent_volume(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": "share"},
            "spec": {
                "capacity": {"storage": "5Gi"},
                "accessModes": ["ReadWriteMany"],
                "csi": {"driver": "file.csi.azure.com", "volumeHandle": "rg#acct#share"},
            },
        }
    )
    core.create_namespaced_persistent_volume_claim(
        "default",
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "resources": {"requests": {"storage": "5Gi"}},
                "volumeName": "share",
            },
        },
    )
    assert core.read_persistent_volume("share").spec.csi.driver == "file.csi.azure.com"
    assert core.read_namespaced_persistent_volume_claim("data", "default").spec.volume_name == "share"
