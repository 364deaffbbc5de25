"""Walk docs/pod-spec-support.md: every row is exercised and behaves as documented.

Each row's Kubernetes field gets a sample here (a change to the minimal pod); the test
checks the documented outcome: rejected rows raise UnsupportedPodSpec naming that path,
"ignored, with a warning" rows warn about that path, plain "ignored" rows pass without a
warning about it, and mapped rows land in the named ACI field. Doc and samples must list
the same fields, so neither can drift from the other.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.errors import UnsupportedPodSpec
from shared.translate import TranslateOptions, translate_pod
from tests.unit.test_translate_samples import MINIMAL_NGINX_POD, config_map, secret

DOC = Path(__file__).resolve().parents[2] / "docs" / "pod-spec-support.md"
SUBNET = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/aci"
IN_SUBNET = TranslateOptions(subnet_ids=(SUBNET,), cluster_dns_ip="10.0.0.10")
WARN = TranslateOptions(unenforceable="warn")
SHARE = {"azureFile": {"shareName": "share", "storageAccountName": "acct", "storageAccountKey": "a2V5"}}
OBJECTS = {
    "secrets": {
        "s": secret("s", {"k": "v"}),
        "st": secret("st", {"azurestorageaccountname": "acct", "azurestorageaccountkey": "key"}),
        "pull": secret(
            "pull",
            {".dockerconfigjson": '{"auths": {"r.io": {"username": "u", "password": "p"}}}'},
            "kubernetes.io/dockerconfigjson",
        ),
    },
    "config_maps": {"c": config_map("c", {"k": "v"})},
}

Mutation = Callable[[dict[str, Any]], dict[str, Any] | None]


def container(**fields: Any) -> Mutation:
    def mutate(pod: dict[str, Any]) -> None:
        pod["spec"]["containers"][0].update(copy.deepcopy(fields))

    return mutate


def spec(**fields: Any) -> Mutation:
    def mutate(pod: dict[str, Any]) -> None:
        pod["spec"].update(copy.deepcopy(fields))

    return mutate


def volume(source: dict[str, Any]) -> Mutation:
    def mutate(pod: dict[str, Any]) -> None:
        pod["spec"]["volumes"] = [{"name": "v", **copy.deepcopy(source)}]
        pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "v", "mountPath": "/v"}]

    return mutate


def mount(**fields: Any) -> Mutation:
    def mutate(pod: dict[str, Any]) -> None:
        pod["spec"]["volumes"] = [{"name": "v", "emptyDir": {}}]
        pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "v", "mountPath": "/v", **fields}]

    return mutate


def metadata(**fields: Any) -> Mutation:
    def mutate(pod: dict[str, Any]) -> None:
        pod["metadata"].update(copy.deepcopy(fields))

    return mutate


def in_subnet(mutation: Mutation) -> Mutation:
    def mutate(pod: dict[str, Any]) -> dict[str, Any]:
        mutation(pod)
        return {"settings": IN_SUBNET}

    return mutate


def with_claims(mutation: Mutation) -> Mutation:
    """The claim bound to an Azure Files share, as the worker resolves it (shared/kube/claims.py)."""

    def mutate(pod: dict[str, Any]) -> dict[str, Any]:
        mutation(pod)
        return {"claims": {"data": SHARE}}

    return mutate


def security(**fields: Any) -> Mutation:
    return container(securityContext=fields)


def env_from(source: dict[str, Any]) -> Mutation:
    return container(env=[{"name": "X", "valueFrom": source}])


EXEC = {"exec": {"command": ["true"]}}
LOCALHOST = {"type": "Localhost", "localhostProfile": "profiles/strict.json"}
PROBE_TIMINGS = ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "successThreshold", "failureThreshold")
NODE_VOLUMES = (
    "awsElasticBlockStore",
    "azureDisk",
    "cephfs",
    "cinder",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "glusterfs",
    "image",
    "iscsi",
    "photonPersistentDisk",
    "portworxVolume",
    "quobyte",
    "rbd",
    "scaleIO",
    "storageos",
    "vsphereVolume",
)
INIT = {"name": "init", "image": "busybox"}

SAMPLES: dict[str, Mutation] = {
    "metadata.name": metadata(name="web"),
    "metadata.namespace": metadata(namespace="team-a"),
    "metadata.uid": metadata(uid="1234"),
    "metadata.creationTimestamp": metadata(creationTimestamp="2024-01-01T00:00:00Z"),
    "metadata.labels": metadata(labels={"app": "web"}),
    "metadata.annotations": metadata(annotations={"note": "x"}),
    "spec.nodeName": spec(nodeName="aci-connector-linux"),
    "spec.os.name": spec(os={"name": "linux"}),
    "spec.nodeSelector": spec(nodeSelector={"type": "virtual-kubelet"}),
    "spec.affinity": spec(affinity={"nodeAffinity": {}}),
    "spec.tolerations": spec(tolerations=[{"key": "virtual-kubelet.io/provider", "operator": "Exists"}]),
    "spec.topologySpreadConstraints": spec(topologySpreadConstraints=[{"maxSkew": 1, "topologyKey": "zone"}]),
    "spec.schedulerName": spec(schedulerName="default-scheduler"),
    "spec.priority": spec(priority=1000),
    "spec.priorityClassName": spec(priorityClassName="high"),
    "spec.preemptionPolicy": spec(preemptionPolicy="Never"),
    "spec.schedulingGates": spec(schedulingGates=[{"name": "gate"}]),
    "spec.overhead": spec(overhead={"cpu": "100m"}),
    "spec.enableServiceLinks": spec(enableServiceLinks=True),
    "spec.automountServiceAccountToken": spec(automountServiceAccountToken=False),
    "spec.serviceAccountName": spec(serviceAccountName="builder"),
    "spec.restartPolicy": spec(restartPolicy="OnFailure"),
    "spec.activeDeadlineSeconds": spec(activeDeadlineSeconds=600),
    "spec.terminationGracePeriodSeconds": spec(terminationGracePeriodSeconds=5),
    "spec.hostNetwork": spec(hostNetwork=True),
    "spec.hostPID": spec(hostPID=True),
    "spec.hostIPC": spec(hostIPC=True),
    "spec.shareProcessNamespace": spec(shareProcessNamespace=True),
    "spec.hostAliases": spec(hostAliases=[{"ip": "1.2.3.4", "hostnames": ["x"]}]),
    "spec.runtimeClassName": spec(runtimeClassName="kata"),
    "spec.resourceClaims": spec(resourceClaims=[{"name": "gpu"}]),
    "spec.resources": spec(resources={"requests": {"cpu": "1"}}),
    "spec.hostUsers": spec(hostUsers=False),
    "spec.hostname": spec(hostname="box"),
    "spec.subdomain": spec(subdomain="svc"),
    "spec.setHostnameAsFQDN": spec(setHostnameAsFQDN=True),
    "spec.readinessGates": spec(readinessGates=[{"conditionType": "x/ready"}]),
    "spec.ephemeralContainers": spec(ephemeralContainers=[{"name": "debug", "image": "busybox"}]),
    "spec.dnsPolicy": in_subnet(spec(dnsPolicy="ClusterFirst")),
    "spec.dnsConfig": in_subnet(spec(dnsConfig={"nameservers": ["1.1.1.1"]})),
    "spec.imagePullSecrets": spec(imagePullSecrets=[{"name": "pull"}]),
    "spec.securityContext.runAsUser": spec(securityContext={"runAsUser": 1000}),
    "spec.securityContext.runAsGroup": spec(securityContext={"runAsGroup": 1000}),
    "spec.securityContext.fsGroup": spec(securityContext={"fsGroup": 2000}),
    "spec.securityContext.supplementalGroups": spec(securityContext={"supplementalGroups": [3000]}),
    "spec.securityContext.sysctls": spec(securityContext={"sysctls": [{"name": "net.core.somaxconn", "value": "1"}]}),
    "spec.securityContext.seLinuxOptions": spec(securityContext={"seLinuxOptions": {"level": "s0"}}),
    "spec.os": spec(os={"name": "linux"}),
    "spec.serviceAccount": spec(serviceAccount="builder"),
    "spec.schedulingGroup": spec(schedulingGroup={"podGroupName": "g"}),
    "spec.evictionResponders": spec(evictionResponders=[{"name": "r"}]),
    "spec.hostnameOverride": spec(hostnameOverride="box"),
    "spec.containers": spec(containers=[{"name": "web", "image": "nginx"}]),
    "spec.volumes": volume({"emptyDir": {}}),
    "spec.securityContext": spec(securityContext={"runAsUser": 1000}),
    "spec.securityContext.runAsNonRoot": spec(securityContext={"runAsNonRoot": True}),
    "spec.securityContext.seccompProfile": spec(securityContext={"seccompProfile": LOCALHOST}),
    "spec.securityContext.appArmorProfile": spec(securityContext={"appArmorProfile": LOCALHOST}),
    "spec.securityContext.fsGroupChangePolicy": spec(securityContext={"fsGroupChangePolicy": "OnRootMismatch"}),
    "spec.securityContext.supplementalGroupsPolicy": spec(securityContext={"supplementalGroupsPolicy": "Strict"}),
    "spec.securityContext.seLinuxChangePolicy": spec(securityContext={"seLinuxChangePolicy": "MountOption"}),
    "spec.securityContext.windowsOptions": spec(securityContext={"windowsOptions": {"runAsUserName": "app"}}),
    "spec.volumes[].name": volume({"emptyDir": {}}),
    **{f"spec.volumes[].{kind}": volume({kind: {}}) for kind in NODE_VOLUMES},
    "spec.containers[].resources": container(resources={"requests": {"cpu": "1"}}),
    "spec.containers[].livenessProbe.exec": container(livenessProbe=EXEC),
    "spec.containers[].livenessProbe.httpGet": container(livenessProbe={"httpGet": {"path": "/", "port": 80}}),
    **{f"spec.containers[].livenessProbe.{k}": container(livenessProbe={**EXEC, k: 3}) for k in PROBE_TIMINGS},
    "spec.containers[].livenessProbe.terminationGracePeriodSeconds": container(
        livenessProbe={**EXEC, "terminationGracePeriodSeconds": 5}
    ),
    "spec.containers[].stdinOnce": container(stdinOnce=True),
    "spec.containers[].restartPolicyRules": container(restartPolicyRules=[{"action": "Restart"}]),
    "spec.containers[].securityContext": security(runAsUser=1000),
    "spec.containers[].securityContext.windowsOptions": security(windowsOptions={"runAsUserName": "app"}),
    "spec.volumes[].emptyDir": volume({"emptyDir": {}}),
    "spec.volumes[].emptyDir.medium": volume({"emptyDir": {"medium": "Memory"}}),
    "spec.volumes[].secret": volume({"secret": {"secretName": "s"}}),
    "spec.volumes[].secret.defaultMode": volume({"secret": {"secretName": "s", "defaultMode": 256}}),
    "spec.volumes[].configMap": volume({"configMap": {"name": "c"}}),
    "spec.volumes[].projected": volume({"projected": {"sources": [{"secret": {"name": "s"}}]}}),
    "spec.volumes[].downwardAPI": volume(
        {"downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}}
    ),
    "spec.volumes[].azureFile": volume({"azureFile": {"secretName": "st", "shareName": "share"}}),
    "spec.volumes[].csi": volume(
        {"csi": {"driver": "file.csi.azure.com", "volumeAttributes": {"shareName": "share", "secretName": "st"}}}
    ),
    "spec.volumes[].csi.driver": volume({"csi": {"driver": "blob.csi.azure.com"}}),
    "spec.volumes[].gitRepo": volume({"gitRepo": {"repository": "https://example.com/r.git"}}),
    "spec.volumes[].hostPath": volume({"hostPath": {"path": "/"}}),
    "spec.volumes[].persistentVolumeClaim": with_claims(volume({"persistentVolumeClaim": {"claimName": "data"}})),
    "spec.volumes[].nfs": volume({"nfs": {"server": "nfs", "path": "/"}}),
    "spec.volumes[].ephemeral": volume({"ephemeral": {"volumeClaimTemplate": {}}}),
    "spec.containers[].name": container(name="web"),
    "spec.containers[].image": container(image="nginx:1.27"),
    "spec.containers[].command": container(command=["nginx", "-g", "daemon off;"]),
    "spec.containers[].args": container(command=["nginx"], args=["-g", "daemon off;"]),
    "spec.containers[].workingDir": container(workingDir="/srv"),
    "spec.containers[].ports": container(ports=[{"containerPort": 8080}]),
    "spec.containers[].ports[].protocol": container(ports=[{"containerPort": 53, "protocol": "UDP"}]),
    "spec.containers[].ports[].hostPort": container(ports=[{"containerPort": 80, "hostPort": 8080}]),
    "spec.containers[].env": container(env=[{"name": "A", "value": "1"}]),
    "spec.containers[].env[].valueFrom.secretKeyRef": env_from({"secretKeyRef": {"name": "s", "key": "k"}}),
    "spec.containers[].env[].valueFrom.configMapKeyRef": env_from({"configMapKeyRef": {"name": "c", "key": "k"}}),
    "spec.containers[].env[].valueFrom.fieldRef": env_from({"fieldRef": {"fieldPath": "metadata.name"}}),
    "spec.containers[].env[].valueFrom.resourceFieldRef": env_from({"resourceFieldRef": {"resource": "limits.cpu"}}),
    "spec.containers[].envFrom": container(envFrom=[{"configMapRef": {"name": "c"}}]),
    "spec.containers[].resources.requests": container(resources={"requests": {"cpu": "1", "memory": "1Gi"}}),
    "spec.containers[].resources.limits": container(resources={"limits": {"cpu": "1", "memory": "1Gi"}}),
    "spec.containers[].resources.claims": container(resources={"claims": [{"name": "gpu"}]}),
    "spec.containers[].volumeMounts": mount(readOnly=True),
    "spec.containers[].volumeMounts[].subPath": mount(subPath="x"),
    "spec.containers[].volumeMounts[].subPathExpr": mount(subPathExpr="$(POD)"),
    "spec.containers[].volumeMounts[].mountPropagation": mount(mountPropagation="HostToContainer"),
    "spec.containers[].volumeDevices": container(volumeDevices=[{"name": "v", "devicePath": "/dev/x"}]),
    "spec.containers[].livenessProbe": container(livenessProbe=EXEC),
    "spec.containers[].readinessProbe": container(readinessProbe={"httpGet": {"path": "/", "port": 80}}),
    "spec.containers[].livenessProbe.tcpSocket": container(livenessProbe={"tcpSocket": {"port": 80}}),
    "spec.containers[].livenessProbe.grpc": container(livenessProbe={"grpc": {"port": 80}}),
    "spec.containers[].startupProbe": container(livenessProbe=EXEC, startupProbe=EXEC),
    "spec.containers[].lifecycle": container(lifecycle={"preStop": EXEC}),
    "spec.containers[].terminationMessagePath": container(terminationMessagePath="/dev/termination-log"),
    "spec.containers[].terminationMessagePolicy": container(terminationMessagePolicy="FallbackToLogsOnError"),
    "spec.containers[].imagePullPolicy": container(imagePullPolicy="Always"),
    "spec.containers[].resizePolicy": container(resizePolicy=[{"resourceName": "cpu", "restartPolicy": "NotRequired"}]),
    "spec.containers[].stdin": container(stdin=True),
    "spec.containers[].tty": container(tty=True),
    "spec.containers[].restartPolicy": container(restartPolicy="Always"),
    "spec.containers[].securityContext.privileged": security(privileged=True),
    "spec.containers[].securityContext.runAsUser": security(runAsUser=1000),
    "spec.containers[].securityContext.runAsGroup": security(runAsGroup=1000),
    "spec.containers[].securityContext.allowPrivilegeEscalation": security(allowPrivilegeEscalation=False),
    "spec.containers[].securityContext.capabilities": security(capabilities={"drop": ["ALL"]}),
    "spec.containers[].securityContext.runAsNonRoot": security(runAsNonRoot=True),
    "spec.containers[].securityContext.readOnlyRootFilesystem": security(readOnlyRootFilesystem=True),
    "spec.containers[].securityContext.seccompProfile": security(seccompProfile=LOCALHOST),
    "spec.containers[].securityContext.seLinuxOptions": security(seLinuxOptions={"level": "s0"}),
    "spec.containers[].securityContext.appArmorProfile": security(appArmorProfile=LOCALHOST),
    "spec.containers[].securityContext.procMount": security(procMount="Unmasked"),
    "spec.initContainers": spec(initContainers=[INIT]),
    "spec.initContainers[].resources": spec(initContainers=[{**INIT, "resources": {"requests": {"cpu": "100m"}}}]),
    "spec.initContainers[].restartPolicy": spec(initContainers=[{**INIT, "restartPolicy": "Always"}]),
    "spec.initContainers[].ports": spec(initContainers=[{**INIT, "ports": [{"containerPort": 80}]}]),
}


def doc_rows() -> list[tuple[str, str]]:
    """The rows of the "## Table" section (other sections hold other tables)."""
    rows = []
    section = DOC.read_text().split("\n## Table\n", 1)[1].split("\n## ", 1)[0]
    for line in section.splitlines():
        match = re.match(r"^\| `([^`]+)` \| (.+) \|$", line)
        if match:
            rows.append((match.group(1), match.group(2)))
    return rows


def normalized(path: str) -> str:
    return re.sub(r"\[\d+\]", "[]", re.sub(r"\['[^']*'\]", "", path))


def about(path: str, field: str) -> bool:
    """True when `path` (with real indices) is `field` or inside it."""
    path = normalized(path)
    return path == field or path.startswith((field + ".", field + "["))


def aci_values(body: Any, path: str) -> list[Any]:
    """Values at an ACI body path like `properties.containers[].properties.image` (`[]` = every element)."""
    current = [body]
    for part in path.split("."):
        key, many = (part[:-2], True) if part.endswith("[]") else (part, False)
        found = []
        for node in current:
            if isinstance(node, dict) and key in node:
                value = node[key]
                found.extend(value if many and isinstance(value, list) else [] if many else [value])
        current = found
    return current


def test_doc_and_samples_list_the_same_fields():
    documented = [field for field, _ in doc_rows()]
    assert len(documented) == len(set(documented)), "a field is listed twice in the doc"
    assert set(documented) == set(SAMPLES)


@pytest.mark.parametrize(("field", "outcome"), doc_rows(), ids=[field for field, _ in doc_rows()])
def test_row_behaves_as_documented(field: str, outcome: str):
    pod = copy.deepcopy(MINIMAL_NGINX_POD)
    extra = SAMPLES[field](pod) or {}
    kwargs = {**OBJECTS, **extra}
    if outcome.startswith(("rejected", "unenforced")):
        with pytest.raises(UnsupportedPodSpec) as caught:
            translate_pod(pod, **kwargs)
        assert about(caught.value.field or "", field), str(caught.value)
        if outcome.startswith("unenforced"):
            assert "UNENFORCEABLE_POD_FIELDS=warn" in str(caught.value)
            lenient = translate_pod(pod, **{**kwargs, "settings": WARN})
            assert any(about(entry.split(": ", 1)[0], field) for entry in lenient.unenforced), lenient.unenforced
        return
    translation = translate_pod(pod, **kwargs)
    warned = [w for w in translation.warnings if about(w.split(": ", 1)[0], field)]
    if outcome.startswith("ignored, with a warning"):
        assert warned, translation.warnings
    elif outcome.startswith("ignored"):
        assert not warned
    else:
        target = re.match(r"`([^`]+)`", outcome)
        assert target, f"mapped row without an ACI path: {outcome}"
        assert aci_values(translation.body, target.group(1)), (target.group(1), translation.body)


MODELS = {
    "V1PodSpec": "spec.",
    "V1Container": "spec.containers[].",
    "V1PodSecurityContext": "spec.securityContext.",
    "V1SecurityContext": "spec.containers[].securityContext.",
    "V1Volume": "spec.volumes[].",
    "V1Probe": "spec.containers[].livenessProbe.",
}


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_field_of_the_kubernetes_model_has_a_row(model: str):
    """Every PodSpec, Container, security context, Volume and Probe field the official client knows is decided."""
    import kubernetes.client

    cls = getattr(kubernetes.client, model)
    documented = {field for field, _ in doc_rows()}
    missing = [MODELS[model] + cls.attribute_map[name] for name in cls.openapi_types]
    assert [field for field in missing if field not in documented] == []
