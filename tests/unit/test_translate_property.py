"""Properties of the translation over generated pods (hypothesis), against the ACI contract.

For any pod (API-shaped or a standalone manifest the API server never defaulted, with annotations,
probes, ports, volumes, Spot and Confidential): the translation either raises UnsupportedPodSpec
naming a real field (no `?` in its path) or produces a body the emulator's 2023-05-01 spec
validation and ACI rules accept (emulator/validate.py). Any other outcome fails. Also: secret
values appear only where ACI keeps them secret; no container gets less CPU or memory than it asked
for; the group name is valid; the body survives the SDK model.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.validate import validate_put
from shared.errors import UnsupportedPodSpec
from shared.naming import is_valid_group_name
from shared.quantities import BYTES_PER_GB, parse_quantity
from shared.translate import TranslateOptions, translate_pod
from tests.unit.test_translate_samples import assert_round_trips, b64, config_map, secret

SECRET_VALUES = ("Sx7-alpha-secret-9f2c", "Sx7-bravo-secret-41d0", "Sx7-charlie-secret-c3aa")
SECRETS = {
    "app": secret("app", {"a": SECRET_VALUES[0], "b": SECRET_VALUES[1]}),
    "pull": secret(
        "pull",
        {".dockerconfigjson": json.dumps({"auths": {"reg.io": {"username": "u", "password": SECRET_VALUES[2]}}})},
        "kubernetes.io/dockerconfigjson",
    ),
}
CONFIG_MAPS = {"cfg": config_map("cfg", {"x": "plain-x", "y": "plain-y"})}
ALLOWED_SECRET_KEYS = {"secureValue", "password"}

cpu = st.one_of(
    st.integers(0, 1300).map(lambda m: f"{m}m"),
    st.decimals(min_value=Decimal("0"), max_value=Decimal("1.3"), places=3).map(str),
    st.integers(0, 1),
)
memory = st.one_of(
    st.integers(1, 5000).map(lambda m: f"{m}Mi"),
    st.integers(1, 5).map(lambda g: f"{g}Gi"),
    st.decimals(min_value=Decimal("0.001"), max_value=Decimal("5"), places=2).map(lambda d: f"{d}G"),
    st.integers(1, 5 * 10**9),
)


@st.composite
def resources(draw: st.DrawFn) -> dict[str, Any]:
    """Requests anywhere in range; limits mostly generous, so most pods pass Kubernetes' request <= limit."""
    out: dict[str, Any] = {}
    for section in ("requests", "limits"):
        values = {}
        generous = section == "limits" and draw(st.integers(0, 4)) > 0
        if draw(st.booleans()):
            values["cpu"] = draw(st.sampled_from(["1300m", "1.3"]) if generous else cpu)
        if draw(st.booleans()):
            values["memory"] = draw(st.sampled_from(["5Gi", "5.4G"]) if generous else memory)
        if values:
            out[section] = values
    return out


env_source = st.one_of(
    st.builds(lambda v: {"value": v}, st.text(alphabet="abc$()XYZ_", max_size=12)),
    st.builds(
        lambda name, key, opt: {"valueFrom": {"secretKeyRef": {"name": name, "key": key, "optional": opt}}},
        st.sampled_from(["app", "gone"]),
        st.sampled_from(["a", "b", "zz"]),
        st.booleans(),
    ),
    st.builds(lambda key: {"valueFrom": {"configMapKeyRef": {"name": "cfg", "key": key}}}, st.sampled_from(["x", "y"])),
    st.builds(
        lambda path: {"valueFrom": {"fieldRef": {"fieldPath": path}}},
        st.sampled_from(["metadata.name", "metadata.namespace", "spec.nodeName", "metadata.uid", "status.podIP"]),
    ),
    st.builds(
        lambda res, div: {"valueFrom": {"resourceFieldRef": {"resource": res, "divisor": div}}},
        st.sampled_from(["limits.cpu", "requests.memory", "limits.memory", "requests.cpu"]),
        st.sampled_from(["1", "1m", "1Mi"]),
    ),
    st.just({"value": "$(S0)-$(E0)"}),
)

volume_source = st.sampled_from(
    [
        {},  # standalone manifests: no source means emptyDir (the API server's default)
        {"emptyDir": {}},
        {"secret": {"secretName": "app"}},
        {"secret": {"secretName": "app", "items": [{"key": "a", "path": "a.txt"}]}},
        {"secret": {"secretName": "gone", "optional": True}},
        {"configMap": {"name": "cfg"}},
        {"projected": {"sources": [{"secret": {"name": "app"}}, {"serviceAccountToken": {"path": "t"}}]}},
        {"downwardAPI": {"items": [{"path": "l", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
        {"gitRepo": {"repository": "https://example.com/r.git"}},
        {"gitRepo": {"repository": "https://example.com/r.git", "directory": "../up"}},
        {"hostPath": {"path": "/"}},
    ]
)


INT32_MAX = 2**31 - 1
probe_number = st.one_of(st.integers(0, 120), st.integers(INT32_MAX - 100, INT32_MAX), st.integers(1, 2**40))


@st.composite
def probes(draw: st.DrawFn, port_names: list[str]) -> dict[str, Any]:
    """exec or httpGet (numeric or named port, HTTP/HTTPS), timing up to and past int32."""
    handler = draw(st.sampled_from(["exec", "httpGet", "httpGet", "tcpSocket"]))
    if handler == "exec":
        probe: dict[str, Any] = {"exec": {"command": ["cat", "/tmp/ok"]}}
    elif handler == "tcpSocket":
        probe = {"tcpSocket": {"port": 80}}
    else:
        port = draw(st.one_of(st.integers(1, 65535), st.sampled_from(port_names or [8080])))
        probe = {"httpGet": {"path": draw(st.sampled_from(["/", "/healthz"])), "port": port}}
        if draw(st.booleans()):
            probe["httpGet"]["scheme"] = draw(st.sampled_from(["HTTP", "HTTPS"]))
    for key in ("initialDelaySeconds", "periodSeconds", "failureThreshold", "timeoutSeconds"):
        if draw(st.integers(0, 3)) == 3:
            probe[key] = draw(probe_number)
    return probe


@st.composite
def ports(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for index, number in enumerate(draw(st.lists(st.integers(1, 65535), min_size=1, max_size=3, unique=True))):
        port: dict[str, Any] = {"containerPort": number, "name": f"p{index}"}
        protocol = draw(st.sampled_from([None, "TCP", "UDP"]))
        if protocol:  # a standalone manifest may leave it out: TCP
            port["protocol"] = protocol
        out.append(port)
    return out


@st.composite
def containers(draw: st.DrawFn, names: list[str], volume_names: list[str], init: bool) -> list[dict[str, Any]]:
    out = []
    for name in names:
        env = [{"name": "S0", "valueFrom": {"secretKeyRef": {"name": "app", "key": "a"}}}]
        env += [{"name": f"E{i}", **draw(env_source)} for i in range(draw(st.integers(0, 5)))]
        container: dict[str, Any] = {
            "name": name,
            "image": draw(st.sampled_from(["nginx", "reg.io/app:1", "myacr.azurecr.io/x"])),
            "env": env,
            "resources": draw(resources()),
        }
        if draw(st.booleans()):
            container["command"] = draw(st.lists(st.sampled_from(["sh", "-c", "$(E0)", "$(S0)", "x"]), max_size=3))
        if draw(st.integers(0, 9)) == 9:
            container["args"] = ["--flag"]
        if draw(st.booleans()):
            container["envFrom"] = [{"secretRef": {"name": "app"}, "prefix": "P_"}]
        if volume_names and draw(st.booleans()):
            picked = draw(st.sampled_from(volume_names))
            mount_path = draw(st.sampled_from([f"/m/{picked}", f"/m/{picked}", "C:/data", "/a:b"]))
            container["volumeMounts"] = [{"name": picked, "mountPath": mount_path}]
        if not init and draw(st.booleans()):
            container["ports"] = draw(ports())
        port_names = [p["name"] for p in container.get("ports") or []]
        if not init:
            for key in ("livenessProbe", "readinessProbe", "startupProbe"):
                if draw(st.integers(0, 2)) == 2:
                    container[key] = draw(probes(port_names))
        if draw(st.integers(0, 19)) == 19:
            container["securityContext"] = {"privileged": True}
        out.append(container)
    return out


CCE_POLICY = base64.b64encode(b"package policy").decode()
annotation_values = {
    "aci-connector.io/priority": st.sampled_from(["spot", "Spot", "regular"]),
    "virtual-kubelet.io/container-sku": st.sampled_from(["Confidential", "Standard"]),
    "microsoft.containerinstance.virtualnode.ccepolicy": st.just(CCE_POLICY),
    "microsoft.containerinstance.virtualnode.zones": st.sampled_from(["1", "2"]),
    "aci-connector.io/ip-address": st.sampled_from(["public", "private", "none"]),
    "virtualkubelet.io/dnsnamelabel": st.sampled_from(["my-app-1", "x"]),
    "microsoft.containerinstance.virtualnode.identity": st.just(
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/mi"
    ),
}


@st.composite
def annotations(draw: st.DrawFn) -> dict[str, str]:
    keys = draw(st.lists(st.sampled_from(sorted(annotation_values)), max_size=4, unique=True))
    return {key: draw(annotation_values[key]) for key in keys}


@st.composite
def pods(draw: st.DrawFn) -> dict[str, Any]:
    volume_list = [{"name": f"v{i}", **draw(volume_source)} for i in range(draw(st.integers(0, 4)))]
    volume_names = [v["name"] for v in volume_list]
    app_names = draw(st.lists(st.sampled_from(["web", "side", "log", "app"]), min_size=1, max_size=3, unique=True))
    init_names = draw(st.lists(st.sampled_from(["init-a", "init-b"]), max_size=2, unique=True))
    if draw(st.integers(0, 49)) == 49:  # around ACI's 60-container limit, init containers counted
        app_names = [f"c{i}" for i in range(draw(st.integers(55, 60)))]
        init_names = [f"init-{i}" for i in range(draw(st.integers(0, 3)))]
    spec: dict[str, Any] = {
        "containers": draw(containers(app_names, volume_names, init=False)),
        "volumes": volume_list,
        "nodeName": draw(
            st.sampled_from(["aci-connector-linux", None, "aci-connector-linux", "aci-connector-windows"])
        ),
    }
    restart_policy = draw(st.sampled_from([None, "Always", "OnFailure", "Never"]))
    if restart_policy:  # a standalone manifest may leave it out: Always
        spec["restartPolicy"] = restart_policy
    if init_names:
        spec["initContainers"] = draw(containers(init_names, volume_names, init=True))
    if draw(st.booleans()):
        spec["imagePullSecrets"] = [{"name": "pull"}]
    if draw(st.integers(0, 19)) == 19:
        spec["hostNetwork"] = True
    metadata: dict[str, Any] = {
        "name": draw(st.from_regex(r"[a-z][a-z0-9.-]{0,40}", fullmatch=True)),
        "namespace": draw(st.sampled_from(["default", "team-a", "x" * 63])),
        "labels": {"app": "p"},
    }
    if draw(st.booleans()):
        metadata["uid"] = str(draw(st.uuids()))
    if draw(st.booleans()):
        metadata["annotations"] = draw(annotations())
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def disallowed_strings(node: Any, key: str = "", inside_secret_volume: bool = False) -> list[str]:
    """Every string of the body outside the places ACI keeps secret."""
    if isinstance(node, dict):
        out = []
        for child_key, value in node.items():
            secret_volume = inside_secret_volume or child_key in ("secret", "storageAccountKey", "workspaceKey")
            if child_key in ALLOWED_SECRET_KEYS or secret_volume:
                continue
            out.extend(disallowed_strings(value, child_key, secret_volume))
            out.append(child_key)
        return out
    if isinstance(node, list):
        return [text for item in node for text in disallowed_strings(item, key, inside_secret_volume)]
    return [node] if isinstance(node, str) else []


def requested(container: dict[str, Any], resource: str) -> Decimal:
    res = container.get("resources") or {}
    value = (res.get("requests") or {}).get(resource, (res.get("limits") or {}).get(resource))
    return parse_quantity(value) if value is not None else Decimal(0)


SUBNET = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/aci"
OPTIONS = TranslateOptions(service_account_token="")
OPTIONS_IN_VNET = TranslateOptions(service_account_token="", subnet_ids=(SUBNET,))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(pods(), st.sampled_from([OPTIONS, OPTIONS, OPTIONS_IN_VNET]))
def test_translation_properties(pod, options):
    try:
        translation = translate_pod(pod, secrets=SECRETS, config_maps=CONFIG_MAPS, settings=options)
    except UnsupportedPodSpec as error:
        assert error.field and str(error).startswith(error.field)
        assert "?" not in error.field, error.field
        return
    body = translation.body
    assert is_valid_group_name(translation.name)
    leaked = [
        text for text in disallowed_strings(body) for value in SECRET_VALUES if value in text or b64(value) in text
    ]
    assert not leaked, leaked
    for source, target in zip(pod["spec"]["containers"], body["properties"]["containers"], strict=True):
        got = target["properties"]["resources"]["requests"]
        assert Decimal(str(got["cpu"])) >= requested(source, "cpu")
        assert Decimal(str(got["memoryInGB"])) * BYTES_PER_GB >= requested(source, "memory")
    for init in pod["spec"].get("initContainers") or []:
        total_cpu = sum(
            Decimal(str(c["properties"]["resources"]["requests"]["cpu"])) for c in body["properties"]["containers"]
        )
        assert total_cpu >= requested(init, "cpu")
    for env in (e for c in body["properties"]["containers"] for e in c["properties"].get("environmentVariables", [])):
        if "value" in env:
            assert all(value not in env["value"] for value in SECRET_VALUES)
    for secret_volume in (v["secret"] for v in body["properties"].get("volumes", []) if "secret" in v):
        for content in secret_volume.values():
            base64.b64decode(content, validate=True)
    assert_round_trips(body)
    validate_put(translation.name, body)
