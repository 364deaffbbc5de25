"""The fake apiserver refuses what a real kube-apiserver 1.32 refuses, with the same field paths and wording.

Each case names a rule of pkg/apis/core/validation (or coordination) and the cause the real server returns;
the last tests pin what the real server does NOT check, so the fake never becomes stricter than a cluster.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.fakes.kube_api import KubeApiServer
from tests.fakes.kube_validate import parse_quantity, quantity_string
from tests.integration.test_fake_kube_api import MERGE, PODS, call, make_pod, pod

STATUS = PODS + "/p/status"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
NODE_STATUS = "/api/v1/nodes/vk/status"
NO_RESTART = "may not be transitioned to non-terminated state"


def causes(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["field"], c["reason"], c["message"]) for c in body["details"]["causes"]]


def container(**fields: Any) -> dict[str, Any]:
    return {"name": "c", "image": "nginx", **fields}


ONE = [{"name": "c", "image": "nginx"}]
TWO_WEB_PORTS = [{"containerPort": 80, "name": "web"}, {"containerPort": 81, "name": "web"}]

BAD_PODS = [
    pytest.param(
        {"metadata": {"labels": {"app": "x" * 64}}},
        ("metadata.labels", "FieldValueInvalid", "must be no more than 63 characters"),
        id="label-value-too-long",
    ),
    pytest.param(
        {"metadata": {"labels": {"-bad": "v"}}},
        ("metadata.labels", "FieldValueInvalid", "name part must consist of alphanumeric characters"),
        id="label-key-syntax",
    ),
    pytest.param(
        {"metadata": {"annotations": {"a/b/c": "free text is fine"}}},
        ("metadata.annotations", "FieldValueInvalid", 'Invalid value: "a/b/c": a qualified name must consist'),
        id="annotation-key",
    ),
    pytest.param(
        {"spec": {"containers": [container(ports=[{"containerPort": 70000}])]}},
        ("spec.containers[0].ports[0].containerPort", "FieldValueInvalid", "Invalid value: 70000: must be between"),
        id="port-range",
    ),
    pytest.param(
        {"spec": {"containers": [container(ports=[{"containerPort": 80, "protocol": "HTTP"}])]}},
        (
            "spec.containers[0].ports[0].protocol",
            "FieldValueNotSupported",
            'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
        ),
        id="port-protocol",
    ),
    pytest.param(
        {
            "spec": {
                "containers": [
                    container(ports=[{"containerPort": 80, "name": "web"}, {"containerPort": 81, "name": "web"}])
                ]
            }
        },
        ("spec.containers[0].ports[1].name", "FieldValueDuplicate", 'Duplicate value: "web"'),
        id="port-name-unique",
    ),
    pytest.param(
        {"spec": {"containers": [container(resources={"limits": {"cpu": "1"}, "requests": {"cpu": "1500m"}})]}},
        (
            "spec.containers[0].resources.requests",
            "FieldValueInvalid",
            'Invalid value: "1500m": must be less than or equal to cpu limit of 1',
        ),
        id="request-above-limit",
    ),
    pytest.param(
        {"spec": {"containers": [container(resources={"requests": {"memory": "-1Gi"}})]}},
        (
            "spec.containers[0].resources.requests[memory]",
            "FieldValueInvalid",
            'Invalid value: "-1Gi": must be greater than or equal to 0',
        ),
        id="negative-quantity",
    ),
    pytest.param(
        {"spec": {"containers": [container(resources={"limits": {"gpu": "1"}})]}},
        (
            "spec.containers[0].resources.limits[gpu]",
            "FieldValueInvalid",
            'Invalid value: "gpu": must be a standard resource for containers',
        ),
        id="resource-name",
    ),
    pytest.param(
        {"spec": {"containers": [container(env=[{"name": "", "value": "1"}])]}},
        ("spec.containers[0].env[0].name", "FieldValueRequired", "Required value"),
        id="env-name-required",
    ),
    pytest.param(
        {"spec": {"containers": [container(env=[{"name": "A=B"}])]}},
        ("spec.containers[0].env[0].name", "FieldValueInvalid", "printable ASCII characters other than '='"),
        id="env-name-syntax",
    ),
    pytest.param(
        {"spec": {"volumes": [{"name": "v"}], "containers": [container()]}},
        ("spec.volumes[0]", "FieldValueRequired", "Required value: must specify a volume type"),
        id="volume-no-source",
    ),
    pytest.param(
        {
            "spec": {
                "volumes": [{"name": "v", "emptyDir": {}, "secret": {"secretName": "s"}}],
                "containers": [container()],
            }
        },
        ("spec.volumes[0].secret", "FieldValueForbidden", "Forbidden: may not specify more than 1 volume type"),
        id="volume-two-sources",
    ),
    pytest.param(
        {
            "spec": {
                "volumes": [{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}}],
                "containers": [container()],
            }
        },
        ("spec.volumes[1].name", "FieldValueDuplicate", 'Duplicate value: "v"'),
        id="volume-name-unique",
    ),
    pytest.param(
        {"spec": {"containers": [container(volumeMounts=[{"name": "data", "mountPath": "/d"}])]}},
        ("spec.containers[0].volumeMounts[0].name", "FieldValueNotFound", 'Not found: "data"'),
        id="mount-unknown-volume",
    ),
    pytest.param(
        {"spec": {"nodeName": "Virtual_Node", "containers": [container()]}},
        ("spec.nodeName", "FieldValueInvalid", 'Invalid value: "Virtual_Node": a lowercase RFC 1123 subdomain'),
        id="node-name",
    ),
    pytest.param(
        {"spec": {"restartPolicy": "Sometimes", "containers": [container()]}},
        ("spec.restartPolicy", "FieldValueNotSupported", 'supported values: "Always", "OnFailure", "Never"'),
        id="restart-policy",
    ),
    pytest.param(
        {"spec": {"dnsPolicy": "Google", "containers": [container()]}},
        (
            "spec.dnsPolicy",
            "FieldValueNotSupported",
            'supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"',
        ),
        id="dns-policy",
    ),
]


@pytest.mark.fake_kube_only("1.32's causes; 1.20 words or places four of them differently")
@pytest.mark.parametrize(("patch", "expected"), BAD_PODS)
def test_invalid_pod_specs_are_422_with_the_real_cause(
    kube_api: KubeApiServer, patch: dict[str, Any], expected: tuple[str, str, str]
) -> None:
    body = pod("p")
    body["metadata"].update(patch.get("metadata", {}))
    body["spec"].update(patch.get("spec", {}))
    status, answer, _ = call(kube_api, "POST", PODS, body)
    assert status == 422 and answer["reason"] == "Invalid", answer
    field, reason, message = expected
    found = [c for c in causes(answer) if c[0] == field and c[1] == reason]
    assert found and message in found[0][2], causes(answer)
    assert answer["message"].startswith('Pod "p" is invalid: ')


@pytest.mark.fake_kube_only("injects faults and uses fields of 1.32")
def test_valid_pod_with_every_checked_field_is_accepted(kube_api: KubeApiServer) -> None:
    spec = {
        "volumes": [{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}],
        "containers": [
            container(
                ports=[{"containerPort": 80, "name": "http"}, {"containerPort": 53, "protocol": "UDP"}],
                env=[
                    {"name": "my.var-1", "value": "x"},
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "x"}}},
                ],
                resources={"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "0.5", "memory": "512Mi"}},
                volumeMounts=[{"name": "data", "mountPath": "/d"}, {"name": "cfg", "mountPath": "/c"}],
            )
        ],
        "nodeName": "virtual-kubelet-aci",
        "restartPolicy": "",  # Go defaults the empty string, so this is "Always"
    }
    labels = {"app.kubernetes.io/name": "web", "empty": ""}
    body = pod("p", **spec)
    body["metadata"]["labels"] = labels
    body["metadata"]["annotations"] = {"Example.com/Note": "any text at all, even / and spaces " + "x" * 100}
    status, created, _ = call(kube_api, "POST", PODS, body)
    assert status == 201, created
    assert created["spec"]["restartPolicy"] == "Always" and created["status"]["qosClass"] == "Burstable"
    assert created["spec"]["containers"][0]["ports"][1]["protocol"] == "UDP"


def test_spec_rules_also_apply_to_updates(kube_api: KubeApiServer) -> None:
    created = make_pod(kube_api, "p")
    changed = copy.deepcopy(created)
    changed["metadata"]["labels"] = {"bad key": "v"}
    status, answer, _ = call(kube_api, "PUT", PODS + "/p", changed)
    assert status == 422 and causes(answer)[0][0] == "metadata.labels"
    status, answer, _ = call(kube_api, "PATCH", PODS + "/p", {"metadata": {"labels": {"ok": "v" * 64}}}, MERGE)
    assert status == 422 and "must be no more than 63 characters" in answer["message"]


@pytest.mark.fake_kube_only("1.32's decode error wording; 1.20 words it differently")
@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("1 core", "quantities must match the regular expression"),
        ("1.2.3", "unable to parse numeric part of quantity"),
        ("1kk", "unable to parse quantity's suffix"),
    ],
)
def test_malformed_quantity_is_a_400_decode_error(kube_api: KubeApiServer, raw: str, message: str) -> None:
    body = pod("p", containers=[container(resources={"requests": {"cpu": raw}})])
    status, answer, _ = call(kube_api, "POST", PODS, body)
    assert status == 400 and answer["reason"] == "BadRequest"
    assert answer["message"].startswith('Pod in version "v1" cannot be handled as a Pod: ' + message)


def test_quantity_canonical_forms() -> None:
    assert [quantity_string(v) for v in ("0.5", "1000m", "1024Mi", "1536Mi", "100", 2, "1.5Gi", "0")] == [
        "500m",
        "1",
        "1Gi",
        "1536Mi",
        "100",
        "2",
        "1536Mi",
        "0",
    ]
    assert parse_quantity("1e3")[0] == 1000 and parse_quantity("2Ki")[0] == 2048


# ----- pod status ---------------------------------------------------------------------------------------------------
def _status(kube_api: KubeApiServer, status: dict[str, Any], method: str = "PATCH") -> tuple[int, Any]:
    if method == "PATCH":
        code, body, _ = call(kube_api, "PATCH", STATUS, {"status": status}, MERGE)
        return code, body
    current = call(kube_api, "GET", PODS + "/p")[1]
    current["status"] = status
    code, body, _ = call(kube_api, "PUT", STATUS, current)
    return code, body


@pytest.mark.fake_kube_only("status.qosClass became immutable after 1.20")
@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_qos_class_is_immutable_but_backfilled_when_omitted(kube_api: KubeApiServer, method: str) -> None:
    make_pod(kube_api, "p")
    code, body = _status(kube_api, {"phase": "Running", "qosClass": "Guaranteed"}, method)
    assert code == 422
    assert causes(body) == [("status.qosClass", "FieldValueInvalid", 'Invalid value: "Guaranteed": field is immutable')]
    assert body["message"] == 'Pod "p" is invalid: status.qosClass: Invalid value: "Guaranteed": field is immutable'
    code, body = _status(kube_api, {"phase": "Running"}, "PUT")
    assert code == 200 and body["status"]["qosClass"] == "BestEffort"


def test_terminated_container_cannot_restart_unless_policy_allows(kube_api: KubeApiServer) -> None:
    make_pod(kube_api, "p", restartPolicy="Never")
    done = {"name": "c", "state": {"terminated": {"exitCode": 0}}, "restartCount": 0, "ready": False, "image": "x"}
    running = {**done, "state": {"running": {}}}
    assert _status(kube_api, {"phase": "Succeeded", "containerStatuses": [done]}, "PUT")[0] == 200
    code, body = _status(kube_api, {"phase": "Running", "containerStatuses": [running]}, "PUT")
    assert code == 422
    assert causes(body) == [
        (
            "status.containerStatuses[0].state",
            "FieldValueForbidden",
            "Forbidden: may not be transitioned to non-terminated state",
        )
    ]


def test_pod_conditions_types_and_ips(kube_api: KubeApiServer) -> None:
    make_pod(kube_api, "p")
    code, body = _status(kube_api, {"conditions": [{"type": "", "status": "True"}]})
    assert code == 422 and [c[0] for c in causes(body)] == ["metadata.conditions[0].Type"] * 2
    code, body = _status(kube_api, {"podIP": "10.0.0.300"})
    assert code == 422
    assert causes(body) == [
        (
            "status.podIPs[0]",
            "FieldValueInvalid",
            'Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
        )
    ]
    code, body = _status(kube_api, {"podIPs": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}]})
    assert code == 422 and "may specify no more than one IP for each IP family" in body["message"]
    # podIP is authoritative over a different podIPs[0], and podIP is filled from podIPs (v1 conversion).
    code, body = _status(kube_api, {"podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.1"}]})
    assert code == 200 and body["status"]["podIPs"] == [{"ip": "10.0.0.9"}]
    code, body = _status(kube_api, {"podIP": None, "podIPs": [{"ip": "fd00::1"}]})
    assert code == 200 and body["status"]["podIP"] == "fd00::1"


def test_what_a_real_server_does_not_check_in_pod_status(kube_api: KubeApiServer) -> None:
    """ValidatePodStatusUpdate has no phase rules and no container-status shape rules: neither has the fake."""
    make_pod(kube_api, "p")
    odd = {
        "name": "not-in-spec",
        "state": {"waiting": {}, "running": {}},
        "restartCount": -1,
        "ready": False,
        "image": "",
    }
    assert _status(kube_api, {"phase": "Failed"})[0] == 200
    code, body = _status(kube_api, {"phase": "Whatever", "containerStatuses": [odd]})
    assert code == 200 and body["status"]["phase"] == "Whatever"
    code, _ = _status(kube_api, {"conditions": [{"type": "Ready", "status": "Maybe"}]})
    assert code == 200


# ----- nodes, events, leases ----------------------------------------------------------------------------------------
NODE = {"metadata": {"name": "vk"}, "spec": {}}


@pytest.mark.parametrize(
    ("taints", "expected"),
    [
        (
            [{"key": "k", "effect": "Sometimes"}],
            ("metadata.taints[0].effect", "FieldValueNotSupported", '"NoSchedule", "PreferNoSchedule", "NoExecute"'),
        ),
        ([{"key": "k"}], ("metadata.taints[0].effect", "FieldValueRequired", "Required value")),
        ([{"key": "bad key", "effect": "NoSchedule"}], ("metadata.taints[0].key", "FieldValueInvalid", "name part")),
        (
            [{"key": "k", "effect": "NoSchedule"}, {"key": "k", "value": "other", "effect": "NoSchedule"}],
            ("metadata.taints[1]", "FieldValueDuplicate", "taints must be unique by key and effect pair"),
        ),
    ],
)
def test_node_taints(kube_api: KubeApiServer, taints: list[dict], expected: tuple[str, str, str]) -> None:
    body = copy.deepcopy(NODE)
    body["spec"]["taints"] = taints
    status, answer, _ = call(kube_api, "POST", "/api/v1/nodes", body)
    assert status == 422 and answer["message"].startswith('Node "vk" is invalid: ')
    field, reason, message = expected
    assert any(c[0] == field and c[1] == reason and message in c[2] for c in causes(answer)), causes(answer)


@pytest.mark.fake_kube_only("1.20 answers some node updates with 422 where 1.32 gives 400")
def test_node_updates_and_status(kube_api: KubeApiServer) -> None:
    body = copy.deepcopy(NODE)
    body["spec"] = {
        "providerID": "azure:///aci",
        "taints": [{"key": "virtual-kubelet.io/provider", "value": "azure", "effect": "NoSchedule"}],
    }
    assert call(kube_api, "POST", "/api/v1/nodes", body)[0] == 201
    status, answer, _ = call(kube_api, "PATCH", "/api/v1/nodes/vk", {"spec": {"providerID": "other"}}, MERGE)
    assert status == 422 and causes(answer)[0][:2] == ("spec.providerID", "FieldValueForbidden")
    twice = [{"type": "InternalIP", "address": "10.0.0.1"}] * 2
    status, answer, _ = call(kube_api, "PATCH", NODE_STATUS, {"status": {"addresses": twice}}, MERGE)
    assert status == 422 and causes(answer)[0][:2] == ("status.addresses[1]", "FieldValueDuplicate")
    status, answer, _ = call(
        kube_api, "PATCH", "/api/v1/nodes/vk/status", {"status": {"capacity": {"cpu": "-1"}}}, MERGE
    )
    assert status == 422 and causes(answer)[0][0] == "status.capacity.cpu"
    status, answer, _ = call(
        kube_api, "PATCH", "/api/v1/nodes/vk/status", {"status": {"capacity": {"pods": "lots"}}}, MERGE
    )
    assert status == 400 and "cannot be handled as a Node: quantities must match" in answer["message"]


def _event(namespace: str, **fields: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "e.1", "namespace": namespace},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
        "reason": "Started",
        "message": "m",
        "type": "AnythingGoes",
        **fields,
    }


def test_core_v1_event_rules(kube_api: KubeApiServer) -> None:
    events = "/api/v1/namespaces/{}/events"
    assert call(kube_api, "POST", events.format("default"), _event("default"))[0] == 201  # type is free text
    status, answer, _ = call(kube_api, "POST", events.format("kube-system"), _event("kube-system"))
    assert status == 422
    assert causes(answer) == [
        ("involvedObject.namespace", "FieldValueInvalid", 'Invalid value: "default": does not match event.namespace')
    ]
    node_event = _event("default", involvedObject={"kind": "Node", "name": "vk"})
    node_event["metadata"]["name"] = "e.2"
    assert call(kube_api, "POST", events.format("default"), node_event)[0] == 201
    timed = _event("default", eventTime="2025-01-01T00:00:00.000000Z")
    timed["metadata"]["name"] = "e.3"
    status, answer, _ = call(kube_api, "POST", events.format("default"), timed)
    assert status == 422
    # An empty reportingController is Required and also fails IsQualifiedName twice, as in legacyValidateEvent.
    assert [c[0] for c in causes(answer)] == ["reportingController"] * 3 + ["reportingInstance", "action"]
    timed["eventTime"] = "2025-01-01T00:00:00Z"
    status, answer, _ = call(kube_api, "POST", events.format("default"), timed)
    assert status == 400 and 'cannot parse "Z" as ".000000"' in answer["message"]


@pytest.mark.fake_kube_only("1.32's wording; 1.20 says 'must to greater or equal than 0'")
@pytest.mark.parametrize(
    ("spec", "status", "text"),
    [
        ({"leaseDurationSeconds": 0}, 422, "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"),
        ({"leaseTransitions": -1}, 422, "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"),
        ({"renewTime": "yesterday"}, 400, 'parsing time "yesterday" as "2006-01-02T15:04:05.000000Z07:00"'),
        ({"acquireTime": "2025-01-01T00:00:00.123Z"}, 400, 'cannot parse ".123Z" as ".000000"'),
        ({"renewTime": "2025-01-01T00:00:00.123456789Z"}, 400, 'cannot parse "789Z" as "Z07:00"'),
        ({"renewTime": "2025-01-01T00:00:00.123456+02:00", "leaseDurationSeconds": 15}, 201, ""),
    ],
)
def test_lease_rules(kube_api: KubeApiServer, spec: dict[str, Any], status: int, text: str) -> None:
    code, answer, _ = call(kube_api, "POST", LEASES, {"metadata": {"name": "l"}, "spec": spec})
    assert code == status, answer
    assert text in answer.get("message", "")
    if status == 201:
        patch = {"spec": {"leaseDurationSeconds": -5}}
        code, answer, _ = call(kube_api, "PATCH", LEASES + "/l", patch, MERGE)
        assert code == 422 and answer["details"]["group"] == "coordination.k8s.io"
