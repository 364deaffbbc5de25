"""Pod -> container group translation, one behaviour per test, on real and realistic Pod JSON."""

from __future__ import annotations

import base64
import copy
import json
from decimal import Decimal

import pytest

from emulator.validate import validate_put
from shared.config import load_settings
from shared.errors import UnsupportedPodSpec
from shared.naming import is_valid_group_name
from shared.translate import TranslateOptions, pod_to_container_group, translate_pod
from tests.unit.test_translate_samples import (
    IIS_WINDOWS_POD,
    MINIMAL_NGINX_POD,
    assert_round_trips,
    b64,
    config_map,
    load_fixture,
    rich_pod,
    secret,
)

SUBNET = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/aci"
IDENTITY = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi"


def pod_with(container: dict | None = None, **spec) -> dict:
    """A minimal API-shaped pod; `container` fields merge into its only container, spec fields into spec."""
    pod = copy.deepcopy(MINIMAL_NGINX_POD)
    if "volumes" in spec:
        pod["spec"]["containers"][0]["volumeMounts"] = []
    pod["spec"]["containers"][0].update(container or {})
    pod["spec"].update(spec)
    return pod


def props(body: dict) -> dict:
    return body["properties"]


def first(body: dict) -> dict:
    return body["properties"]["containers"][0]["properties"]


def env_of(body: dict, index: int = 0) -> dict[str, dict]:
    return {e["name"]: e for e in body["properties"]["containers"][index]["properties"].get("environmentVariables", [])}


def rejects(pod: dict, field: str, **kwargs) -> UnsupportedPodSpec:
    with pytest.raises(UnsupportedPodSpec) as caught:
        translate_pod(pod, **kwargs)
    assert caught.value.field == field, str(caught.value)
    assert str(caught.value).startswith(field)
    return caught.value


def checked(translation_body: dict, name: str = "g") -> dict:
    """The body passes the strict fake ARM validator and the SDK round trip."""
    validate_put(name, translation_body)
    assert_round_trips(translation_body)
    return translation_body


# ---------------------------------------------------------------- real pods


def test_gke_fixture_pod_translates_and_drops_legacy_token_volume():
    pod = load_fixture("pod-running.gke.k9s-p1.json")
    translation = translate_pod(pod)
    body = checked(translation.body)
    assert translation.name.startswith("default-nginx-7fb78fb6d8-2w75j-")
    assert first(body)["image"] == "k8s.gcr.io/nginx-slim:0.8"
    assert first(body)["resources"] == {
        "requests": {"cpu": 0.2, "memoryInGB": 0.1},
        "limits": {"cpu": 0.2, "memoryInGB": 0.1},
    }
    assert props(body)["ipAddress"] == {"ports": [{"port": 80, "protocol": "TCP"}], "type": "Public"}
    assert "volumes" not in props(body) and "volumeMounts" not in first(body)
    assert any(w.startswith("spec.volumes[0]: dropped") for w in translation.warnings)


def test_legacy_token_volume_is_mounted_when_its_secret_is_given():
    pod = load_fixture("pod-running.gke.k9s-p1.json")
    token = secret("default-token-dsl46", {"token": "jwt", "ca.crt": "pem", "namespace": "default"})
    body = checked(pod_to_container_group(pod, secrets={"default-token-dsl46": token}))
    assert props(body)["volumes"][0]["secret"]["token"] == b64("jwt")
    assert first(body)["volumeMounts"][0]["readOnly"] is True


def test_minikube_fixture_with_host_path_is_rejected_naming_the_volume():
    rejects(load_fixture("pod-pending-containercreating.get-response.falco-minikube.json"), "spec.volumes[0].hostPath")


def test_privileged_fixture_is_rejected():
    pod = load_fixture("pod-pending-unscheduled.create-response.falco-minikube.json")
    rejects(pod, "spec.containers[0].securityContext.privileged")


def test_windows_iis_walkthrough_pod():
    translation = translate_pod(IIS_WINDOWS_POD)
    body = checked(translation.body)
    assert props(body)["osType"] == "Windows"
    assert first(body)["image"] == "microsoft/iis:windowsservercore"
    assert first(body)["resources"]["requests"] == {"cpu": 1.0, "memoryInGB": 1.0}
    assert props(body)["ipAddress"]["ports"] == [{"port": 80, "protocol": "TCP"}]
    assert "volumes" not in props(body)
    assert any("kube-api-access" not in w and "spec.volumes[0]: dropped" in w for w in translation.warnings)


def test_windows_rules():
    two = copy.deepcopy(IIS_WINDOWS_POD)
    two["spec"]["containers"].append({**two["spec"]["containers"][0], "name": "second", "ports": []})
    rejects(two, "spec.containers")
    with_volume = copy.deepcopy(IIS_WINDOWS_POD)
    with_volume["spec"]["volumes"].append({"name": "scratch", "emptyDir": {}})
    rejects(with_volume, "spec.volumes[1]")
    with_init = copy.deepcopy(IIS_WINDOWS_POD)
    with_init["spec"]["initContainers"] = [{"name": "init", "image": "busybox"}]
    rejects(with_init, "spec.initContainers")


def test_windows_from_node_selector_when_no_node_and_os_conflict():
    pod = copy.deepcopy(IIS_WINDOWS_POD)
    del pod["spec"]["nodeName"]
    pod["spec"]["nodeSelector"] = {"kubernetes.io/os": "windows"}
    assert props(pod_to_container_group(pod))["osType"] == "Windows"
    linux = pod_with(os={"name": "windows"})
    rejects(linux, "spec.os.name")


def test_minimal_pod_defaults_and_tags():
    translation = translate_pod(MINIMAL_NGINX_POD)
    body = checked(translation.body)
    assert body["location"] == "westeurope"
    assert first(body)["resources"] == {"requests": {"cpu": 1.0, "memoryInGB": 1.5}}
    assert props(body)["restartPolicy"] == "Always" and props(body)["sku"] == "Standard"
    assert body["tags"] == {
        "aci-connector": "managed",
        "aci-connector-mode": "cluster",
        "k8s-namespace": "default",
        "k8s-pod-name": "nginx",
        "k8s-pod-uid": "0b5a4c1e-8d1f-4f7c-9a3e-1d2c3b4a5f60",
        "k8s-node-name": "aci-connector-linux",
        "k8s-pod-created": "2024-05-01T10:00:00Z",
    }
    assert is_valid_group_name(translation.name)


def test_standalone_manifest_is_tagged_standalone():
    pod = {"metadata": {"name": "job"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    body = checked(pod_to_container_group(pod))
    assert body["tags"]["aci-connector-mode"] == "standalone"
    assert "k8s-pod-uid" not in body["tags"]


def test_rich_pod_round_trips_and_keeps_secrets_secure():
    pod, secrets, config_maps = rich_pod()
    translation = translate_pod(pod, secrets=secrets, config_maps=config_maps)
    body = checked(translation.body)
    env = env_of(body)
    assert env["SECRET_1"] == {"name": "SECRET_1", "secureValue": "hunter2-secret"}
    assert env["CONFIG_2"] == {"name": "CONFIG_2", "value": "fast"}
    assert env["POD_3"]["value"] == "busy-7d9c8b6f5-abcde"
    assert env["EXPANDED_4"]["value"] == "value-0-suffix"
    assert first(body)["command"] == ["/bin/app", "--serve", "--port", "8000"]
    assert props(body)["imageRegistryCredentials"] == [
        {"server": "myregistry.azurecr.io", "username": "puller", "password": "pull-pass"}
    ]
    assert len(props(body)["volumes"]) == 6
    assert first(body)["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 8000, "scheme": "http"}
    assert "hunter2-secret" not in json.dumps({k: v for k, v in body.items() if k != "properties"})
    assert any("defaultMode" in w for w in translation.warnings)


# ---------------------------------------------------------------- command and args


def test_command_and_args_concatenate():
    body = pod_to_container_group(pod_with({"command": ["sh", "-c"], "args": ["echo hi"]}))
    assert first(body)["command"] == ["sh", "-c", "echo hi"]


def test_args_without_command_is_rejected_with_advice():
    error = rejects(pod_with({"args": ["--verbose"]}), "spec.containers[0].args")
    assert "set command" in str(error)


def test_command_expands_env_and_escapes():
    container = {"env": [{"name": "WHO", "value": "world"}], "command": ["echo", "$(WHO)", "$$(WHO)", "$(NOPE)"]}
    assert first(pod_to_container_group(pod_with(container)))["command"] == ["echo", "world", "$(WHO)", "$(NOPE)"]


def test_command_expanding_a_secret_is_rejected():
    container = {
        "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}}],
        "command": ["login", "$(PW)"],
    }
    rejects(pod_with(container), "spec.containers[0].command[1]", secrets={"s": secret("s", {"pw": "x"})})


def test_working_dir_is_rejected():
    rejects(pod_with({"workingDir": "/app"}), "spec.containers[0].workingDir")


# ---------------------------------------------------------------- env


def test_env_sources():
    pod = pod_with(
        {
            "env": [
                {"name": "A", "value": "1"},
                {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}},
                {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
                {"name": "L", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                {"name": "AN", "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['note']"}}},
                {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
                {"name": "HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
                {"name": "MIX", "value": "$(A)-$(S)"},
            ]
        }
    )
    pod["metadata"]["labels"] = {"app": "web"}
    pod["metadata"]["annotations"] = {"note": "hello"}
    pod["status"] = {"hostIP": "10.1.2.3"}
    body = checked(
        pod_to_container_group(
            pod, secrets={"s": secret("s", {"k": "top"})}, config_maps={"c": config_map("c", {"k": "plain"})}
        )
    )
    env = env_of(body)
    assert env["A"] == {"name": "A", "value": "1"}
    assert env["S"] == {"name": "S", "secureValue": "top"}
    assert env["C"]["value"] == "plain"
    assert env["NS"]["value"] == "default" and env["UID"]["value"] == MINIMAL_NGINX_POD["metadata"]["uid"]
    assert env["L"]["value"] == "web" and env["AN"]["value"] == "hello"
    assert env["NODE"]["value"] == "aci-connector-linux" and env["SA"]["value"] == "default"
    assert env["HOST"]["value"] == "10.1.2.3"
    assert env["MIX"] == {"name": "MIX", "secureValue": "1-top"}


def test_secret_string_data_is_used():
    pod = pod_with({"env": [{"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]})
    manifest_secret = {"kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "from-string-data"}}
    assert env_of(pod_to_container_group(pod, secrets={"s": manifest_secret}))["S"]["secureValue"] == "from-string-data"


def test_pod_ip_env_is_rejected():
    pod = pod_with({"env": [{"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]})
    error = rejects(pod, "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath")
    assert "pod IP" in str(error)


def test_missing_references_optional_and_required():
    optional = pod_with(
        {
            "env": [{"name": "S", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k", "optional": True}}}],
            "envFrom": [{"configMapRef": {"name": "gone", "optional": True}}],
        }
    )
    assert "S" not in env_of(pod_to_container_group(optional))
    required = pod_with({"env": [{"name": "S", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k"}}}]})
    error = rejects(required, "spec.containers[0].env[0].valueFrom.secretKeyRef.name")
    assert "'gone'" in str(error)
    missing_key = pod_with({"env": [{"name": "C", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "nope"}}}]})
    rejects(
        missing_key, "spec.containers[0].env[0].valueFrom.configMapKeyRef.key", config_maps={"c": config_map("c", {})}
    )


def test_env_from_with_prefix_and_precedence():
    pod = pod_with(
        {
            "envFrom": [
                {"secretRef": {"name": "s"}, "prefix": "DB_"},
                {"configMapRef": {"name": "c"}},
            ],
            "env": [{"name": "mode", "value": "override"}],
        }
    )
    body = pod_to_container_group(
        pod,
        secrets={"s": secret("s", {"password": "pw"})},
        config_maps={"c": config_map("c", {"mode": "slow", "bad=key": "x"})},
    )
    env = env_of(body)
    assert env["DB_password"] == {"name": "DB_password", "secureValue": "pw"}
    assert env["mode"] == {"name": "mode", "value": "override"}
    assert "bad=key" not in env


def test_resource_field_ref_uses_aci_values():
    container = {
        "resources": {"requests": {"cpu": "250m", "memory": "100Mi"}, "limits": {"memory": "1Gi"}},
        "env": [
            {"name": "CPU_M", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}},
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
            {"name": "MEM_MI", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
            {"name": "REQ_B", "valueFrom": {"resourceFieldRef": {"resource": "requests.memory"}}},
        ],
    }
    env = env_of(pod_to_container_group(pod_with(container)))
    assert env["CPU_M"]["value"] == "250"
    assert env["CPU"]["value"] == "1"  # no CPU limit: ACI's limit is the request, 0.25 -> ceil 1
    assert env["REQ_B"]["value"] == "200000000"  # 100Mi -> 0.2 GB on ACI
    # The 1Gi limit becomes 1.1 GB but is capped to the group's 0.2 GB request.
    assert env["MEM_MI"]["value"] == str(-(-200000000 // 1048576))


# ---------------------------------------------------------------- resources


@pytest.mark.parametrize(
    ("cpu", "memory", "expected"),
    [
        ("1.981", "1Gi", (1.99, 1.1)),
        ("500m", "128Mi", (0.5, 0.2)),
        ("2", "3.49G", (2.0, 3.5)),
        ("0", "0", (0.01, 0.1)),
    ],
)
def test_requests_round_up_to_aci_grid(cpu, memory, expected):
    body = pod_to_container_group(pod_with({"resources": {"requests": {"cpu": cpu, "memory": memory}}}))
    assert (first(body)["resources"]["requests"]["cpu"], first(body)["resources"]["requests"]["memoryInGB"]) == expected


def test_limits_only_become_requests():
    body = pod_to_container_group(pod_with({"resources": {"limits": {"cpu": "2", "memory": "2G"}}}))
    assert first(body)["resources"] == {
        "requests": {"cpu": 2.0, "memoryInGB": 2.0},
        "limits": {"cpu": 2.0, "memoryInGB": 2.0},
    }


def test_defaults_come_from_settings():
    settings = load_settings({"DEFAULT_CPU": "0.5", "DEFAULT_MEMORY_GB": "0.7", "ACI_REGION": "eastus"})
    body = pod_to_container_group(MINIMAL_NGINX_POD, settings=settings)
    assert first(body)["resources"]["requests"] == {"cpu": 0.5, "memoryInGB": 0.7}
    assert body["location"] == "eastus"


def test_limit_above_group_total_is_lowered_with_warning():
    pod = pod_with({"resources": {"requests": {"cpu": "1", "memory": "1G"}, "limits": {"cpu": "3", "memory": "1G"}}})
    translation = translate_pod(pod)
    checked(translation.body)
    assert first(translation.body)["resources"]["limits"] == {"cpu": 1.0, "memoryInGB": 1.0}
    assert any(w.startswith("spec.containers[0].resources.limits.cpu: lowered") for w in translation.warnings)


def test_group_over_maximum_is_rejected_with_numbers_and_maximum_is_configurable():
    pod = pod_with({"resources": {"requests": {"cpu": "5", "memory": "1G"}}})
    error = rejects(pod, "spec.containers[].resources.requests.cpu")
    assert "5" in str(error) and "4" in str(error)
    body = pod_to_container_group(pod, settings={"ACI_MAX_CPU": "8"})
    assert first(body)["resources"]["requests"]["cpu"] == 5.0
    big = pod_with({"resources": {"requests": {"memory": "17G"}}})
    rejects(big, "spec.containers[].resources.requests.memory")


def test_request_above_limit_is_rejected():
    pod = pod_with({"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}})
    rejects(pod, "spec.containers[0].resources.requests.cpu")


def test_gpu_is_rejected_and_ephemeral_storage_ignored():
    rejects(
        pod_with({"resources": {"limits": {"nvidia.com/gpu": "1"}}}),
        "spec.containers[0].resources.limits['nvidia.com/gpu']",
    )
    translation = translate_pod(pod_with({"resources": {"requests": {"ephemeral-storage": "1Gi"}}}))
    assert any("ephemeral-storage" in w for w in translation.warnings)


def test_init_container_larger_than_app_raises_first_request():
    pod = pod_with(
        {"resources": {"requests": {"cpu": "500m", "memory": "512M"}}},
        initContainers=[
            {"name": "migrate", "image": "busybox", "resources": {"requests": {"cpu": "2", "memory": "2G"}}}
        ],
    )
    translation = translate_pod(pod)
    checked(translation.body)
    assert first(translation.body)["resources"]["requests"] == {"cpu": 2.0, "memoryInGB": 2.0}
    assert "resources" not in props(translation.body)["initContainers"][0]["properties"]
    assert any(w.startswith("spec.initContainers[0].resources: dropped") for w in translation.warnings)


# ---------------------------------------------------------------- volumes


def test_secret_and_config_map_volumes_with_items_and_binary_data():
    cm = config_map("c", {"app.yaml": "a: 1"})
    cm["binaryData"] = {"logo.png": b64(b"\x89PNG")}
    pod = pod_with(
        {"volumeMounts": [{"name": "s", "mountPath": "/s"}, {"name": "c", "mountPath": "/c", "readOnly": True}]},
        volumes=[
            {"name": "s", "secret": {"secretName": "s", "items": [{"key": "k", "path": "renamed"}]}},
            {"name": "c", "configMap": {"name": "c"}},
        ],
    )
    body = checked(
        pod_to_container_group(pod, secrets={"s": secret("s", {"k": "v", "other": "x"})}, config_maps={"c": cm})
    )
    volumes = {v["name"]: v for v in props(body)["volumes"]}
    assert volumes["s"]["secret"] == {"renamed": b64("v")}
    assert volumes["c"]["secret"] == {"app.yaml": b64("a: 1"), "logo.png": b64(b"\x89PNG")}
    assert first(body)["volumeMounts"] == [
        {"name": "s", "mountPath": "/s"},
        {"name": "c", "mountPath": "/c", "readOnly": True},
    ]


def test_optional_missing_secret_volume_is_empty_and_required_is_rejected():
    pod = pod_with(volumes=[{"name": "s", "secret": {"secretName": "gone", "optional": True}}])
    assert props(pod_to_container_group(pod))["volumes"] == [{"name": "s", "emptyDir": {}}]
    required = pod_with(volumes=[{"name": "s", "secret": {"secretName": "gone"}}])
    rejects(required, "spec.volumes[0].secret.secretName")


def test_nested_item_path_is_rejected():
    pod = pod_with(volumes=[{"name": "c", "configMap": {"name": "c", "items": [{"key": "k", "path": "a/b"}]}}])
    rejects(pod, "spec.volumes[0].configMap.items[0].path", config_maps={"c": config_map("c", {"k": "v"})})


def test_azure_file_and_csi_volumes():
    storage = secret("st", {"azurestorageaccountname": "acct", "azurestorageaccountkey": "k3y"})
    pod = pod_with(
        volumes=[
            {"name": "a", "azureFile": {"secretName": "st", "shareName": "share1", "readOnly": True}},
            {
                "name": "b",
                "csi": {
                    "driver": "file.csi.azure.com",
                    "volumeAttributes": {"shareName": "share2"},
                    "nodePublishSecretRef": {"name": "st"},
                },
            },
            {
                "name": "c",
                "csi": {"driver": "file.csi.azure.com", "volumeAttributes": {"shareName": "s3", "secretName": "st"}},
            },
        ]
    )
    body = checked(pod_to_container_group(pod, secrets={"st": storage}))
    volumes = {v["name"]: v["azureFile"] for v in props(body)["volumes"]}
    assert volumes["a"] == {
        "shareName": "share1",
        "storageAccountName": "acct",
        "storageAccountKey": "k3y",
        "readOnly": True,
    }
    assert volumes["b"]["shareName"] == "share2" and volumes["c"]["shareName"] == "s3"
    other = pod_with(volumes=[{"name": "d", "csi": {"driver": "disk.csi.azure.com"}}])
    rejects(other, "spec.volumes[0].csi.driver")


def test_downward_api_volume_formats_like_kubelet():
    pod = pod_with(
        volumes=[
            {
                "name": "info",
                "downwardAPI": {
                    "items": [
                        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                        {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}},
                        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                        {
                            "path": "cpu",
                            "resourceFieldRef": {"containerName": "nginx", "resource": "requests.cpu", "divisor": "1m"},
                        },
                    ]
                },
            }
        ]
    )
    pod["metadata"]["labels"] = {"zone": "b", "app": "web"}
    pod["metadata"]["annotations"] = {"note": 'say "hi"\n'}
    files = props(pod_to_container_group(pod))["volumes"][0]["secret"]
    decoded = {key: base64.b64decode(value).decode() for key, value in files.items()}
    assert decoded == {
        "labels": 'app="web"\nzone="b"',
        "annotations": 'note="say \\"hi\\"\\n"',
        "name": "nginx",
        "cpu": "1000",
    }


def test_projected_volume_with_token_configured():
    options = TranslateOptions(service_account_token="jwt-token", ca_cert="PEM")
    body = checked(pod_to_container_group(MINIMAL_NGINX_POD, settings=options))
    files = props(body)["volumes"][0]["secret"]
    assert files == {"token": b64("jwt-token"), "ca.crt": b64("PEM"), "namespace": b64("default")}
    ca = {"kube-root-ca.crt": config_map("kube-root-ca.crt", {"ca.crt": "CLUSTER-CA"})}
    files = props(pod_to_container_group(MINIMAL_NGINX_POD, settings=options, config_maps=ca))["volumes"][0]["secret"]
    assert files["ca.crt"] == b64("CLUSTER-CA")


def test_kube_api_access_is_dropped_without_token():
    translation = translate_pod(MINIMAL_NGINX_POD)
    assert "volumes" not in props(translation.body)
    assert "volumeMounts" not in first(translation.body)
    assert translation.warnings == [
        "spec.volumes[0]: dropped: service-account token volume (no SERVICE_ACCOUNT_TOKEN configured)"
    ]


def test_generic_projected_volume_drops_only_token_source():
    pod = pod_with(
        volumes=[
            {
                "name": "mix",
                "projected": {
                    "sources": [
                        {"secret": {"name": "s"}},
                        {"serviceAccountToken": {"path": "tok", "audience": "vault"}},
                    ]
                },
            }
        ]
    )
    translation = translate_pod(pod, secrets={"s": secret("s", {"a": "b"})})
    assert props(translation.body)["volumes"][0]["secret"] == {"a": b64("b")}
    assert any("serviceAccountToken: dropped" in w for w in translation.warnings)


def test_git_repo_empty_dir_and_unsupported_volumes():
    pod = pod_with(
        volumes=[
            {"name": "g", "gitRepo": {"repository": "https://x/r.git", "directory": ".", "revision": "abc"}},
            {"name": "e", "emptyDir": {"medium": "Memory"}},
        ]
    )
    translation = translate_pod(pod)
    assert props(translation.body)["volumes"] == [
        {"name": "g", "gitRepo": {"repository": "https://x/r.git", "directory": ".", "revision": "abc"}},
        {"name": "e", "emptyDir": {}},
    ]
    assert any("emptyDir.medium" in w for w in translation.warnings)
    rejects(
        pod_with(volumes=[{"name": "p", "persistentVolumeClaim": {"claimName": "c"}}]),
        "spec.volumes[0].persistentVolumeClaim",
    )
    rejects(pod_with(volumes=[{"name": "n", "nfs": {"server": "s", "path": "/"}}]), "spec.volumes[0].nfs")


def test_sub_path_and_too_many_volumes_are_rejected():
    pod = pod_with(
        {"volumeMounts": [{"name": "e", "mountPath": "/e", "subPath": "x"}]}, volumes=[{"name": "e", "emptyDir": {}}]
    )
    rejects(pod, "spec.containers[0].volumeMounts[0].subPath")
    many = pod_with(volumes=[{"name": f"v{i}", "emptyDir": {}} for i in range(21)])
    rejects(many, "spec.volumes")


# ---------------------------------------------------------------- registry credentials


def test_image_pull_secrets_both_formats_every_registry():
    config = {
        "auths": {
            "https://index.docker.io/v1/": {"auth": b64("hubuser:hubpass")},
            "ghcr.io": {"username": "gh", "password": "ghp"},
        }
    }
    legacy = {"quay.io": {"auth": b64("q:qp"), "email": "x@y"}}
    secrets = {
        "new": secret("new", {".dockerconfigjson": json.dumps(config)}, "kubernetes.io/dockerconfigjson"),
        "old": secret("old", {".dockercfg": json.dumps(legacy)}, "kubernetes.io/dockercfg"),
    }
    pod = pod_with(imagePullSecrets=[{"name": "new"}, {"name": "old"}, {"name": "missing"}])
    translation = translate_pod(pod, secrets=secrets)
    checked(translation.body)
    assert props(translation.body)["imageRegistryCredentials"] == [
        {"server": "index.docker.io", "username": "hubuser", "password": "hubpass"},
        {"server": "ghcr.io", "username": "gh", "password": "ghp"},
        {"server": "quay.io", "username": "q", "password": "qp"},
    ]
    assert any(w.startswith("spec.imagePullSecrets[2]: skipped") for w in translation.warnings)


def test_acr_pull_with_managed_identity():
    pod = pod_with({"image": "myacr.azurecr.io/app:1"})
    pod["metadata"]["annotations"] = {"aci-connector.io/acr-identity": IDENTITY}
    body = checked(pod_to_container_group(pod))
    assert props(body)["imageRegistryCredentials"] == [{"server": "myacr.azurecr.io", "identity": IDENTITY}]
    assert body["identity"] == {"type": "UserAssigned", "userAssignedIdentities": {IDENTITY: {}}}


# ---------------------------------------------------------------- probes and lifecycle


def test_probes_exec_and_http_with_named_port():
    container = {
        "ports": [{"containerPort": 8080, "name": "web", "protocol": "TCP"}],
        "livenessProbe": {
            "httpGet": {
                "path": "/healthz",
                "port": "web",
                "scheme": "HTTPS",
                "httpHeaders": [{"name": "X", "value": "1"}],
            },
            "initialDelaySeconds": 3,
            "periodSeconds": 7,
            "failureThreshold": 2,
            "successThreshold": 1,
            "timeoutSeconds": 4,
        },
        "readinessProbe": {"exec": {"command": ["cat", "/ready"]}},
    }
    body = checked(pod_to_container_group(pod_with(container)))
    assert first(body)["livenessProbe"] == {
        "httpGet": {"path": "/healthz", "port": 8080, "scheme": "https", "httpHeaders": [{"name": "X", "value": "1"}]},
        "initialDelaySeconds": 3,
        "periodSeconds": 7,
        "failureThreshold": 2,
        "successThreshold": 1,
        "timeoutSeconds": 4,
    }
    assert first(body)["readinessProbe"] == {"exec": {"command": ["cat", "/ready"]}}


def test_tcp_probe_rejected_and_startup_probe_folded():
    error = rejects(
        pod_with({"livenessProbe": {"tcpSocket": {"port": 80}}}), "spec.containers[0].livenessProbe.tcpSocket"
    )
    assert "no TCP probe" in str(error)
    container = {
        "livenessProbe": {"exec": {"command": ["true"]}, "initialDelaySeconds": 5},
        "startupProbe": {"exec": {"command": ["true"]}, "failureThreshold": 30, "periodSeconds": 10},
    }
    translation = translate_pod(pod_with(container))
    assert first(translation.body)["livenessProbe"]["initialDelaySeconds"] == 305
    assert any("startupProbe: folded" in w for w in translation.warnings)
    alone = translate_pod(pod_with({"startupProbe": {"exec": {"command": ["true"]}}}))
    assert "livenessProbe" not in first(alone.body)
    assert any("startupProbe: dropped" in w for w in alone.warnings)


def test_lifecycle_hooks_dropped_with_warning():
    translation = translate_pod(pod_with({"lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}}}))
    assert any(w.startswith("spec.containers[0].lifecycle: ignored") for w in translation.warnings)


# ---------------------------------------------------------------- init containers, restart policy


def test_init_containers():
    pod = pod_with(
        initContainers=[
            {
                "name": "setup",
                "image": "busybox",
                "command": ["sh", "-c"],
                "args": ["echo $(X)"],
                "env": [{"name": "X", "value": "y"}],
                "volumeMounts": [{"name": "e", "mountPath": "/e"}],
            }
        ],
        volumes=[{"name": "e", "emptyDir": {}}],
    )
    body = checked(pod_to_container_group(pod))
    assert props(body)["initContainers"] == [
        {
            "name": "setup",
            "properties": {
                "image": "busybox",
                "command": ["sh", "-c", "echo y"],
                "environmentVariables": [{"name": "X", "value": "y"}],
                "volumeMounts": [{"name": "e", "mountPath": "/e"}],
            },
        }
    ]


def test_init_container_fields_aci_refuses():
    sidecar = pod_with(initContainers=[{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}])
    error = rejects(sidecar, "spec.initContainers[0].restartPolicy")
    assert "sidecar" in str(error)
    with_ports = pod_with(initContainers=[{"name": "i", "image": "b", "ports": [{"containerPort": 1}]}])
    rejects(with_ports, "spec.initContainers[0].ports")


@pytest.mark.parametrize("policy", ["Always", "OnFailure", "Never"])
def test_restart_policy_carried(policy):
    assert props(pod_to_container_group(pod_with(restartPolicy=policy)))["restartPolicy"] == policy


def test_deadline_and_grace_period_warn():
    translation = translate_pod(pod_with(activeDeadlineSeconds=60, terminationGracePeriodSeconds=5))
    paths = [w.split(":")[0] for w in translation.warnings]
    assert "spec.activeDeadlineSeconds" in paths and "spec.terminationGracePeriodSeconds" in paths


# ---------------------------------------------------------------- networking and annotations


def test_no_ports_no_ip_and_too_many_ports():
    pod = pod_with({"ports": []})
    assert "ipAddress" not in props(pod_to_container_group(pod))
    many = pod_with({"ports": [{"containerPort": 1000 + i, "protocol": "TCP"} for i in range(6)]})
    rejects(many, "spec.containers[0].ports")
    udp = pod_with({"ports": [{"containerPort": 53, "protocol": "UDP"}]})
    assert props(pod_to_container_group(udp))["ipAddress"]["ports"] == [{"port": 53, "protocol": "UDP"}]


def test_dns_name_label_annotation():
    pod = pod_with()
    pod["metadata"]["annotations"] = {"virtualkubelet.io/dnsnamelabel": "my-nginx"}
    assert props(checked(pod_to_container_group(pod)))["ipAddress"]["dnsNameLabel"] == "my-nginx"
    pod["metadata"]["annotations"] = {"virtualkubelet.io/dnsnamelabel": "Bad_Label"}
    rejects(pod, "metadata.annotations['virtualkubelet.io/dnsnamelabel']")


def test_private_subnet_with_cluster_dns():
    options = TranslateOptions(subnet_ids=(SUBNET,), cluster_dns_ip="10.0.0.10")
    pod = pod_with(
        dnsConfig={"options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}], "searches": ["corp.local"]}
    )
    body = checked(pod_to_container_group(pod, settings=options))
    assert props(body)["subnetIds"] == [{"id": SUBNET}]
    assert props(body)["ipAddress"]["type"] == "Private"
    assert props(body)["dnsConfig"] == {
        "nameServers": ["10.0.0.10"],
        "searchDomains": "default.svc.cluster.local svc.cluster.local cluster.local corp.local",
        "options": "ndots:2 edns0",
    }
    pod["metadata"]["annotations"] = {"microsoft.containerinstance.virtualnode.injectdns": "false"}
    assert "dnsConfig" not in props(pod_to_container_group(pod, settings=options))


def test_subnet_annotation_overrides_and_public_label_conflicts():
    pod = pod_with()
    pod["metadata"]["annotations"] = {"microsoft.containerinstance.virtualnode.subnets.primary": SUBNET + "2"}
    assert props(pod_to_container_group(pod))["subnetIds"] == [{"id": SUBNET + "2"}]
    pod["metadata"]["annotations"]["virtualkubelet.io/dnsnamelabel"] = "my-nginx"
    rejects(pod, "metadata.annotations['virtualkubelet.io/dnsnamelabel']")


def test_group_annotations():
    pod = pod_with()
    pod["metadata"]["annotations"] = {
        "microsoft.containerinstance.virtualnode.ccepolicy": "cGFja2FnZQ==",
        "microsoft.containerinstance.virtualnode.identity": f"{IDENTITY},SystemAssigned",
        "microsoft.containerinstance.virtualnode.customtags": "env=Dev;project=silverSpoon",
        "microsoft.containerinstance.virtualnode.zones": "2",
        "aci-connector.io/log-analytics-secret": "la",
    }
    la = secret("la", {"workspace-id": "wid", "workspace-key": "wkey", "log-type": "ContainerInstanceLogs"})
    body = checked(pod_to_container_group(pod, secrets={"la": la}))
    assert props(body)["sku"] == "Confidential"
    assert props(body)["confidentialComputeProperties"] == {"ccePolicy": "cGFja2FnZQ=="}
    assert "priority" not in props(body)
    assert body["identity"] == {"type": "SystemAssigned, UserAssigned", "userAssignedIdentities": {IDENTITY: {}}}
    assert body["tags"]["env"] == "Dev" and body["tags"]["project"] == "silverSpoon"
    assert body["zones"] == ["2"]
    assert props(body)["diagnostics"] == {
        "logAnalytics": {"workspaceId": "wid", "workspaceKey": "wkey", "logType": "ContainerInstanceLogs"}
    }


def test_spot_priority_annotation():
    """Spot alone (no port, no subnet, no Confidential SKU, no zones: Spot supports none of them)."""
    pod = pod_with({"ports": []})
    pod["metadata"]["annotations"] = {"aci-connector.io/priority": "spot"}
    body = checked(pod_to_container_group(pod))
    assert props(body)["priority"] == "Spot"
    assert "ipAddress" not in props(body) and "zones" not in body


def test_custom_tags_cannot_override_connector_tags():
    pod = pod_with()
    pod["metadata"]["annotations"] = {"microsoft.containerinstance.virtualnode.customtags": "aci-connector=mine"}
    rejects(pod, "metadata.annotations['microsoft.containerinstance.virtualnode.customtags']")


def test_settings_object_and_plain_mapping_agree():
    settings = load_settings({})
    assert pod_to_container_group(MINIMAL_NGINX_POD, settings=settings) == pod_to_container_group(MINIMAL_NGINX_POD)
    assert pod_to_container_group(MINIMAL_NGINX_POD, settings={"ACI_REGION": "westeurope"}) == pod_to_container_group(
        MINIMAL_NGINX_POD
    )


def test_translation_is_deterministic_and_does_not_mutate_input():
    pod, secrets, config_maps = rich_pod()
    snapshot = copy.deepcopy((pod, secrets, config_maps))
    one = pod_to_container_group(pod, secrets=secrets, config_maps=config_maps)
    two = pod_to_container_group(pod, secrets=secrets, config_maps=config_maps)
    assert one == two
    assert (pod, secrets, config_maps) == snapshot


def test_resources_never_below_request_exactly():
    body = pod_to_container_group(pod_with({"resources": {"requests": {"cpu": "1001m", "memory": "1000000001"}}}))
    requests = first(body)["resources"]["requests"]
    assert Decimal(str(requests["cpu"])) == Decimal("1.01")
    assert Decimal(str(requests["memoryInGB"])) == Decimal("1.1")


def test_windows_drops_token_volume_even_with_token_configured():
    translation = translate_pod(IIS_WINDOWS_POD, settings=TranslateOptions(service_account_token="jwt"))
    assert "volumes" not in props(checked(translation.body))


def test_module_imports_no_sdk():
    import subprocess
    import sys

    code = (
        "import sys, shared.translate, shared.naming; "
        "print(any(m.startswith(('azure', 'kubernetes')) for m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("value", ["1,2", "1;2", " 1 ; 3 ", "zone-a", "4"])
def test_zones_annotation_takes_one_azure_zone(value: str):
    pod = pod_with()
    pod["metadata"]["annotations"] = {"microsoft.containerinstance.virtualnode.zones": value}
    with pytest.raises(UnsupportedPodSpec, match=r"microsoft\.containerinstance\.virtualnode\.zones"):
        pod_to_container_group(pod)


def test_zones_annotation_accepts_a_single_zone_with_a_trailing_separator():
    pod = pod_with()
    pod["metadata"]["annotations"] = {"microsoft.containerinstance.virtualnode.zones": "3;"}
    assert pod_to_container_group(pod)["zones"] == ["3"]


def test_the_change_feed_workspace_receives_every_groups_container_events_unless_the_pod_names_its_own():
    from shared.tags import spec_hash

    workspace = "11111111-2222-3333-4444-555555555555"
    settings = load_settings({"CHANGE_FEED_WORKSPACE_ID": workspace, "CHANGE_FEED_WORKSPACE_KEY": "a2V5"})
    body = checked(pod_to_container_group(pod_with(), settings=settings))
    assert props(body)["diagnostics"] == {
        "logAnalytics": {"workspaceId": workspace, "workspaceKey": "a2V5", "logType": "ContainerInstanceLogs"}
    }
    rotated = load_settings({"CHANGE_FEED_WORKSPACE_ID": workspace, "CHANGE_FEED_WORKSPACE_KEY": "bmV3"})
    assert spec_hash(body) == spec_hash(pod_to_container_group(pod_with(), settings=rotated))  # no re-PUT on rotation
    assert "diagnostics" not in props(pod_to_container_group(pod_with()))
