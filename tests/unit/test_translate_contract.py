"""Translator bugs found against the ACI contract (emulator/spec.py, emulator/rules.py), one test each.

Each pod here was translated into a body real ARM rejects, or rejected naming no real field; every
accepted body below also passes the emulator's validation (`checked`).
"""

from __future__ import annotations

import copy

import pytest

from shared.errors import UnsupportedPodSpec
from shared.translate import TranslateOptions, pod_to_container_group, translate_pod
from tests.unit.test_translate import SUBNET, checked, first, pod_with, props, rejects
from tests.unit.test_translate_samples import MINIMAL_NGINX_POD

PRIORITY = "metadata.annotations['aci-connector.io/priority']"
INT32_MAX = 2**31 - 1


def spot(pod: dict, **more: str) -> dict:
    pod["metadata"]["annotations"] = {"aci-connector.io/priority": "spot", **more}
    return pod


# ---------------------------------------------------------------- Spot: no public IP, VNet, Confidential or zones


def test_spot_with_a_container_port_is_rejected_naming_both_fields():
    error = rejects(spot(pod_with()), PRIORITY)
    assert "spec.containers[0].ports" in str(error) and "public IP" in str(error)


def test_spot_with_a_port_but_no_ip_runs():
    pod = spot(pod_with(), **{"aci-connector.io/ip-address": "none"})
    body = checked(pod_to_container_group(pod))
    assert props(body)["priority"] == "Spot" and "ipAddress" not in props(body)


def test_spot_in_a_virtual_network_is_rejected_naming_the_setting():
    pod = spot(pod_with({"ports": []}))
    error = rejects(pod, PRIORITY, settings=TranslateOptions(subnet_ids=(SUBNET,)))
    assert "ACI_SUBNET_IDS" in str(error)
    pod["metadata"]["annotations"]["microsoft.containerinstance.virtualnode.subnets.primary"] = SUBNET
    error = rejects(pod, PRIORITY)
    assert "microsoft.containerinstance.virtualnode.subnets.primary" in str(error)


@pytest.mark.parametrize(
    ("annotation", "value"),
    [
        ("virtual-kubelet.io/container-sku", "Confidential"),
        ("microsoft.containerinstance.virtualnode.ccepolicy", "cGFja2FnZQ=="),
        ("microsoft.containerinstance.virtualnode.zones", "1"),
    ],
)
def test_spot_with_confidential_or_zones_is_rejected_naming_both_annotations(annotation, value):
    error = rejects(spot(pod_with({"ports": []}), **{annotation: value}), PRIORITY)
    assert annotation in str(error)


# ---------------------------------------------------------------- 60 containers, init containers counted


def many(containers: int, init: int) -> dict:
    pod = pod_with({"ports": []})
    base = pod["spec"]["containers"][0]
    base["resources"] = {"requests": {"cpu": "10m", "memory": "100Mi"}}
    pod["spec"]["containers"] = [{**copy.deepcopy(base), "name": f"c{i}"} for i in range(containers)]
    pod["spec"]["initContainers"] = [{"name": f"i{i}", "image": "busybox"} for i in range(init)]
    return pod


def test_more_than_sixty_containers_counting_init_containers_is_rejected():
    error = rejects(many(58, 3), "spec.initContainers")
    assert "61" in str(error) and "60" in str(error)
    rejects(many(61, 0), "spec.containers")


def test_sixty_containers_with_init_containers_run():
    body = checked(pod_to_container_group(many(57, 3)))
    assert len(props(body)["containers"]) + len(props(body)["initContainers"]) == 60


# ---------------------------------------------------------------- int32 fields


def test_folded_startup_probe_never_overflows_int32():
    probe = {"httpGet": {"path": "/", "port": 80}, "initialDelaySeconds": INT32_MAX - 10}
    startup = {"exec": {"command": ["true"]}, "periodSeconds": 10, "failureThreshold": 30}
    translation = translate_pod(pod_with({"livenessProbe": probe, "startupProbe": startup}))
    checked(translation.body)
    assert first(translation.body)["livenessProbe"]["initialDelaySeconds"] == INT32_MAX
    assert any("2147483647" in warning for warning in translation.warnings)


@pytest.mark.parametrize("key", ["initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold"])
def test_probe_numbers_outside_int32_are_rejected_naming_the_field(key):
    probe = {"exec": {"command": ["true"]}, key: 2**31}
    rejects(pod_with({"livenessProbe": probe}), f"spec.containers[0].livenessProbe.{key}")
    rejects(pod_with({"livenessProbe": {**probe, key: "ten"}}), f"spec.containers[0].livenessProbe.{key}")


def test_probe_port_out_of_range_is_rejected_naming_the_field():
    rejects(
        pod_with({"readinessProbe": {"httpGet": {"port": 70000}}}), "spec.containers[0].readinessProbe.httpGet.port"
    )


# ---------------------------------------------------------------- mounts and git volumes


@pytest.mark.parametrize("mount_path", ["C:/data", "/a:b"])
def test_mount_path_with_a_colon_is_rejected_naming_the_field(mount_path):
    pod = pod_with(
        {"volumeMounts": [{"name": "scratch", "mountPath": mount_path}]}, volumes=[{"name": "scratch", "emptyDir": {}}]
    )
    rejects(pod, "spec.containers[0].volumeMounts[0].mountPath")


def test_empty_mount_path_is_rejected_naming_the_field():
    pod = pod_with({"volumeMounts": [{"name": "scratch"}]}, volumes=[{"name": "scratch", "emptyDir": {}}])
    rejects(pod, "spec.containers[0].volumeMounts[0].mountPath")


def test_git_repo_directory_climbing_out_is_rejected():
    volume = {"name": "src", "gitRepo": {"repository": "https://example.com/r.git", "directory": "../up"}}
    pod = pod_with({"volumeMounts": [{"name": "src", "mountPath": "/src"}]}, volumes=[volume])
    rejects(pod, "spec.volumes[0].gitRepo.directory")


# ---------------------------------------------------------------- standalone manifests: the API server's defaults


def standalone() -> dict:
    """What a user writes: no restartPolicy, dnsPolicy, port protocol, volume source or probe defaults."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "hello", "namespace": "default"},
        "spec": {
            "containers": [
                {
                    "name": "hello",
                    "image": "nginx:1.25",
                    "ports": [{"containerPort": 80}],
                    "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
                    "livenessProbe": {"httpGet": {"port": 80}},
                }
            ],
            "volumes": [{"name": "scratch"}],
        },
    }


def test_standalone_manifest_gets_the_api_server_defaults():
    pod = standalone()
    snapshot = copy.deepcopy(pod)
    body = checked(pod_to_container_group(pod))
    assert pod == snapshot  # the input is not changed
    assert props(body)["restartPolicy"] == "Always"
    assert props(body)["volumes"] == [{"name": "scratch", "emptyDir": {}}]
    assert props(body)["ipAddress"]["ports"] == [{"port": 80, "protocol": "TCP"}]
    assert first(body)["livenessProbe"]["httpGet"] == {"path": "/", "port": 80, "scheme": "http"}


def test_standalone_and_api_shaped_pods_translate_alike():
    """Defaults change nothing on a pod the API server already defaulted."""
    assert pod_to_container_group(MINIMAL_NGINX_POD) == pod_to_container_group(copy.deepcopy(MINIMAL_NGINX_POD))
    pod = standalone()
    defaulted = copy.deepcopy(pod)
    spec = defaulted["spec"]
    spec.update(restartPolicy="Always", dnsPolicy="ClusterFirst")
    spec["volumes"][0]["emptyDir"] = {}
    container = spec["containers"][0]
    container["ports"][0]["protocol"] = "TCP"
    container["livenessProbe"] = {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}}
    assert pod_to_container_group(pod) == pod_to_container_group(defaulted)


# ---------------------------------------------------------------- every error names a real field


@pytest.mark.parametrize(
    ("pod", "field"),
    [
        (
            pod_with(
                {"volumeMounts": [{"name": "p", "mountPath": "/p"}]},
                volumes=[{"name": "p", "projected": {"sources": [{}]}}],
            ),
            "spec.volumes[0].projected.sources[0]",
        ),
        (
            pod_with({"ports": [{"containerPort": 80}]}, volumes=[]),
            None,  # accepted: protocol defaults to TCP
        ),
    ],
)
def test_error_paths_name_real_fields(pod, field):
    if field is None:
        checked(pod_to_container_group(pod))
        return
    error = rejects(pod, field)
    assert "?" not in error.field and "[]" not in error.field


def test_too_many_ports_names_a_container():
    pod = pod_with({"ports": [{"containerPort": 80 + i, "protocol": "TCP"} for i in range(6)]})
    with pytest.raises(UnsupportedPodSpec) as caught:
        translate_pod(pod)
    assert caught.value.field == "spec.containers[0].ports"
