"""The connector's real flows under the RBAC deploy/ ships: the fake's model of it, and the real authorizer.

The Function App's flows (queue worker, reconciler, capacity) run as the ServiceAccount aci-connector-functions,
the relay as aci-connector-relay, with exactly the Roles and bindings `kubectl kustomize deploy/` renders. Every
flow must finish without a single 403, and must really have made the calls its grants exist for. The first
tests prove the authorizer refuses what the rules do not grant, with the apiserver's own Status, so these
checks can fail.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from shared.azure.quota import CapacityService
from shared.config import POD_EVENTS_QUEUE
from shared.kube import KubeApiError, KubeClient
from shared.kube.recorder import pod_event
from shared.messages import Message, PodRef, parse_message
from shared.naming import container_group_name
from shared.reconcile import ReconcileConfig, Reconciler
from shared.reconcile.retry import RetryPolicy
from shared.relay import Relay, RelayConfig
from shared.relay.putter import QueuePutter
from shared.worker import Context, process_message
from tests.fakes.connector_fixtures import NODE, make_pod, make_spot_pod, settings_for
from tests.fakes.kube_api import KubeApiServer, parse_target
from tests.fakes.kube_rbac import (
    DEPLOY,
    FUNCTIONS_SA,
    RBAC_KINDS,
    RELAY_SA,
    Attributes,
    RbacAuthorizer,
    RbacPolicy,
    Subject,
    deploy_objects,
    deploy_policy,
    enforce,
    render,
    request_attributes,
)
from tests.fakes.waiting import wait_for

pytestmark = pytest.mark.timeout(120)

FUNCTIONS_USER = "system:serviceaccount:aci-connector:aci-connector-functions"
LEASES = "coordination.k8s.io"
Install = Callable[..., RbacAuthorizer]


@dataclass
class Caller:
    """Who `_raw` calls as: nobody special on the fake (its authorizer decides), a real token on the real one."""

    token: str | None = None
    context: ssl.SSLContext | None = None


CALLER = Caller()


@pytest.fixture
def rbac(kube_api: Any, request: pytest.FixtureRequest) -> Iterator[Install]:
    """`rbac(subject, policy=None)`: from now on requests are authorized as `subject` under `policy` (deploy/'s).

    On the fake its authorizer models RBAC (tests/fakes/kube_rbac.py). On the real server the policy's
    Roles and bindings are applied, a real token of the ServiceAccount is minted by TokenRequest and the test's
    clients switch to it; the real authorizer decides, and its decisions are read from the audit log.
    """
    if isinstance(kube_api, KubeApiServer):
        yield lambda subject, policy=None: enforce(kube_api, subject, policy)
        kube_api.authorizer = None
        return

    def install(subject: Subject, policy: RbacPolicy | None = None) -> Any:
        rules = policy or deploy_policy()
        for obj in deploy_objects():
            if obj["kind"] in ("Namespace", "ServiceAccount"):
                kube_api.apply(obj)
        for obj in (*rules.cluster_roles.values(), *rules.roles.values()):
            kube_api.apply(obj)
        for obj in (*rules.cluster_role_bindings, *rules.role_bindings):
            kube_api.apply(obj)
        token = kube_api.service_account_token(subject.namespace, subject.name)
        for name in ("kube", "kube_client"):
            if name in request.fixturenames:
                client = request.getfixturevalue(name)
                configuration = getattr(client, "api_client", client).configuration
                configuration.api_key = {"authorization": token}
                configuration.api_key_prefix = {"authorization": "Bearer"}
        CALLER.token, CALLER.context = token, ssl.create_default_context(cafile=kube_api.ca_file)
        return kube_api.decisions(subject.user)

    yield install
    CALLER.token = CALLER.context = None


def assert_clean(authorizer: Any, needed: set[tuple[str, str, str]]) -> None:
    """No request was refused, and the flow really made every call in `needed` (verb, group, resource).

    On the real server a watch still open is not in the audit log yet (1.20 logs it when it ends): there
    the messages the relay delivered are what prove its watch.
    """
    denied = [str(a) for a in authorizer.denied]
    user = authorizer.subject.user if isinstance(authorizer, RbacAuthorizer) else authorizer.user
    assert not denied, f"{user} was refused: {denied}"
    if not isinstance(authorizer, RbacAuthorizer):
        needed = {call for call in needed if call[0] != "watch"}
    missing = needed - authorizer.granted()
    assert not missing, f"the flow never made these calls: {sorted(missing)}; made {sorted(authorizer.granted())}"


def upsert_text(pod: dict[str, Any]) -> str:
    meta = pod["metadata"]
    return Message(op="upsert", pod=PodRef(meta["namespace"], meta["name"], meta["uid"]), source="watch").to_text()


def delete_text(pod: dict[str, Any]) -> str:
    meta = pod["metadata"]
    return Message(op="delete", pod=PodRef(meta["namespace"], meta["name"], meta["uid"]), source="watch").to_text()


# ----- the authorizer refuses, exactly as the apiserver does ----------------------------------------------------------


def _raw(url: str, method: str = "GET", body: Any = None) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if CALLER.token:
        headers["Authorization"] = f"Bearer {CALLER.token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10, context=CALLER.context) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_call_outside_the_rules_gets_the_apiservers_403_status(kube_api, rbac):
    kube_api.create(make_pod())
    authorizer = rbac(FUNCTIONS_SA)
    status, body = _raw(f"{kube_api.url}/api/v1/namespaces/default/pods/web/status", "PUT", {})
    assert status != 403  # update pods/status is granted (the empty body is then refused by the API itself)
    kube_api.request_counts.clear()

    status, body = _raw(f"{kube_api.url}/api/v1/namespaces/default/secrets")
    assert status == 403
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f'secrets is forbidden: User "{FUNCTIONS_USER}" cannot list resource "secrets" in API group "" '
        'in the namespace "default"',
        "reason": "Forbidden",
        "details": {"kind": "secrets"},
        "code": 403,
    }
    status, body = _raw(f"{kube_api.url}/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/aks-0", "PATCH")
    assert status == 403
    assert body["message"] == (
        f'leases.coordination.k8s.io "aks-0" is forbidden: User "{FUNCTIONS_USER}" cannot patch resource "leases" '
        'in API group "coordination.k8s.io" in the namespace "kube-node-lease"'
    )
    assert body["details"] == {"name": "aks-0", "group": "coordination.k8s.io", "kind": "leases"}
    status, body = _raw(f"{kube_api.url}/api/v1/nodes/aks-0/status", "PATCH")
    assert body["message"].endswith('cannot patch resource "nodes/status" in API group "" at the cluster scope')
    assert sum(kube_api.request_counts.values()) == 0, "a refused request never reaches the store"
    assert [str(a) for a in authorizer.denied] == [
        "list core/secrets ns=default name=-",
        "patch coordination.k8s.io/leases ns=kube-node-lease name=aks-0",
        "patch core/nodes/status cluster name=aks-0",
    ]
    assert _raw(f"{kube_api.url}/api")[0] == 200, "discovery stays open to every authenticated user"


def test_the_kube_client_sees_the_403_of_a_pod_create_and_a_status_patch_by_the_relay(kube_api, kube, rbac):
    pod = kube_api.create(make_pod())
    rbac(FUNCTIONS_SA)
    with pytest.raises(KubeApiError) as refused:
        kube.request("POST", "/api/v1/namespaces/default/pods", body=make_pod("other"))
    assert (refused.value.status, refused.value.reason) == (403, "Forbidden")
    assert refused.value.message == (
        f'pods is forbidden: User "{FUNCTIONS_USER}" cannot create resource "pods" in API group "" '
        'in the namespace "default"'
    )
    rbac(RELAY_SA)
    with pytest.raises(KubeApiError) as refused:
        kube.patch_pod_status("default", "web", pod["metadata"]["uid"], {"phase": "Running"})
    assert refused.value.message == (
        'pods "web" is forbidden: User "system:serviceaccount:aci-connector:aci-connector-relay" cannot patch '
        'resource "pods/status" in API group "" in the namespace "default"'
    )
    assert kube.get_pod("default", "web") is not None  # get pods is the relay's


def _attrs(verb: str, resource: str, namespace: str = "", name: str = "", group: str = "") -> Attributes:
    base, _, sub = resource.partition("/")
    return Attributes(verb, group, "v1", base, sub, namespace, name)


SHIPPED_DECISIONS = [
    (FUNCTIONS_SA, _attrs("create", "leases", "kube-node-lease", group=LEASES), True),
    (FUNCTIONS_SA, _attrs("update", "leases", "kube-node-lease", NODE, LEASES), True),
    (FUNCTIONS_SA, _attrs("update", "leases", "kube-node-lease", "aks-nodepool1-0", LEASES), False),
    (FUNCTIONS_SA, _attrs("get", "leases", "default", NODE, LEASES), False),  # the Role binds in kube-node-lease only
    (FUNCTIONS_SA, _attrs("list", "leases", "kube-node-lease", group=LEASES), False),  # names never grant a list
    (FUNCTIONS_SA, _attrs("create", "nodes"), True),
    (FUNCTIONS_SA, _attrs("patch", "nodes/status", name=NODE), True),
    (FUNCTIONS_SA, _attrs("patch", "nodes/status", name="aks-nodepool1-0"), False),
    (FUNCTIONS_SA, _attrs("patch", "nodes", name="aks-nodepool1-0"), False),
    (FUNCTIONS_SA, _attrs("delete", "nodes", name=NODE), False),
    (FUNCTIONS_SA, _attrs("patch", "pods/status", "any-team", "web"), True),
    (FUNCTIONS_SA, _attrs("patch", "pods", "any-team", "web"), False),
    (FUNCTIONS_SA, _attrs("deletecollection", "pods", "any-team"), False),
    (FUNCTIONS_SA, _attrs("create", "pods/binding", "any-team", "web"), False),
    (FUNCTIONS_SA, _attrs("list", "secrets", "any-team"), False),
    (FUNCTIONS_SA, _attrs("get", "secrets", "any-team", "db"), True),
    (RELAY_SA, _attrs("watch", "pods"), True),
    (RELAY_SA, _attrs("get", "nodes", name=NODE), True),
    (RELAY_SA, _attrs("list", "nodes"), False),
    (RELAY_SA, _attrs("list", "nodes", name=NODE), False),  # named or not, the relay has no list verb on nodes
    (RELAY_SA, _attrs("patch", "leases", "kube-node-lease", NODE, LEASES), False),
    (RELAY_SA, _attrs("delete", "pods", "any-team", "web"), False),
    (Subject("aci-connector", "default"), _attrs("get", "pods", "any-team", "web"), False),
    (Subject("other-namespace", "aci-connector-functions"), _attrs("get", "pods", "any-team", "web"), False),
]


@pytest.mark.parametrize(("subject", "attributes", "allowed"), SHIPPED_DECISIONS, ids=str)
def test_shipped_rules_decide_as_kubernetes_rbac_would(subject: Subject, attributes: Attributes, allowed: bool):
    assert RbacAuthorizer(deploy_policy(), subject).allows(attributes)[0] is allowed


@pytest.mark.real_kube
@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_the_real_authorizer_decides_every_case_as_the_model(real_kube, tmp_path):
    """`kubectl apply -k deploy/` on the real server, then the evidence for keeping tests/fakes/kube_rbac.py:
    kube-apiserver's own RBAC authorizer, asked through SubjectAccessReview, gives the model's answer in
    every case above."""
    env = {**os.environ, "KUBECONFIG": str(real_kube.kubeconfig(tmp_path / "admin")), "HOME": str(tmp_path)}
    applied = subprocess.run(
        ["kubectl", "apply", "-k", str(DEPLOY)], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert applied.returncode == 0, applied.stderr
    for obj in deploy_objects():
        if obj["kind"] in ("ServiceAccount", *RBAC_KINDS):
            assert real_kube.request("GET", _object_url(obj))["metadata"]["name"] == obj["metadata"]["name"]
    disagree = []
    for subject, attributes, allowed in SHIPPED_DECISIONS:
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": subject.user,
                "groups": list(subject.groups),
                "resourceAttributes": {
                    "verb": attributes.verb,
                    "group": attributes.api_group,
                    "resource": attributes.resource,
                    "subresource": attributes.subresource,
                    "namespace": attributes.namespace,
                    "name": attributes.name,
                },
            },
        }
        answer = real_kube.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
        if bool(answer["status"].get("allowed")) is not allowed:
            disagree.append(f"{subject.user}: {attributes} real={answer['status']}")
    assert not disagree


def _object_url(obj: dict[str, Any]) -> str:
    group = "/apis/rbac.authorization.k8s.io/v1" if obj["kind"] in RBAC_KINDS else "/api/v1"
    plural = obj["kind"].lower() + "s"
    namespace = obj["metadata"].get("namespace")
    where = f"/namespaces/{namespace}" if namespace and obj["kind"] not in ("ClusterRole", "ClusterRoleBinding") else ""
    return f"{group}{where}/{plural}/{obj['metadata']['name']}"


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        ("GET", "/api/v1/pods", {}, "list core/pods cluster name=-"),
        ("GET", "/api/v1/pods", {"watch": "true"}, "watch core/pods cluster name=-"),
        ("GET", "/api/v1/pods", {"watch": "1"}, "watch core/pods cluster name=-"),
        ("GET", "/api/v1/pods", {"watch": ""}, "watch core/pods cluster name=-"),
        ("GET", "/api/v1/pods", {"watch": "False"}, "list core/pods cluster name=-"),
        ("GET", "/api/v1/pods", {"fieldSelector": "spec.nodeName=n"}, "list core/pods cluster name=-"),
        ("GET", "/api/v1/nodes", {"fieldSelector": "metadata.name=n1"}, "list core/nodes cluster name=n1"),
        ("GET", "/api/v1/nodes", {"fieldSelector": "metadata.name!=n1"}, "list core/nodes cluster name=-"),
        ("HEAD", "/api/v1/namespaces/a/pods/p", {}, "get core/pods ns=a name=p"),
        ("PUT", "/api/v1/namespaces/a/pods/p/status", {}, "update core/pods/status ns=a name=p"),
        ("PATCH", "/api/v1/nodes/n/status", {}, "patch core/nodes/status cluster name=n"),
        ("POST", "/api/v1/namespaces/a/pods/p/binding", {}, "create core/pods/binding ns=a name=p"),
        ("POST", "/api/v1/namespaces/a/events", {}, "create core/events ns=a name=-"),
        ("DELETE", "/api/v1/namespaces/a/pods/p", {}, "delete core/pods ns=a name=p"),
        ("DELETE", "/api/v1/namespaces/a/pods", {}, "deletecollection core/pods ns=a name=-"),
        (
            "PUT",
            "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n",
            {},
            "update coordination.k8s.io/leases ns=kube-node-lease name=n",
        ),
    ],
)
def test_requests_map_to_verbs_as_the_apiserver_maps_them(method, path, query, expected):
    target = parse_target(path)
    assert target is not None
    assert str(request_attributes(method, target, query)) == expected


def test_binding_forms_groups_aggregation_and_missing_roles():
    subject = Subject("tools", "bot")
    policy = RbacPolicy(
        [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "reader", "labels": {"agg": "yes"}},
                "rules": [
                    {"apiGroups": [""], "resources": ["configmaps", "*/status"], "verbs": ["get"]},
                    {"apiGroups": ["*"], "resources": ["leases"], "resourceNames": ["l1"], "verbs": ["list", "watch"]},
                ],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": "aggregate"},
                "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": "yes"}}]},
            },
            {  # a RoleBinding to a ClusterRole grants it in the binding's namespace only
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "b1", "namespace": "team-a"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "aggregate"},
                "subjects": [{"kind": "Group", "name": "system:serviceaccounts:tools"}],
            },
            {  # a namespace-less ServiceAccount subject means the binding's namespace (team-b, not tools)
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "b2", "namespace": "team-b"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "bot"}],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": "b3"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "gone"},
                "subjects": [{"kind": "User", "name": subject.user}],
            },
        ]
    )
    authorizer = RbacAuthorizer(policy, subject)
    assert authorizer.allows(_attrs("get", "configmaps", "team-a", "c"))[0]
    assert authorizer.allows(_attrs("get", "pods/status", "team-a", "p"))[0]  # */status
    assert not authorizer.allows(_attrs("get", "pods", "team-a", "p"))[0]
    assert not authorizer.allows(_attrs("get", "configmaps", "team-b", "c"))[0]
    assert not authorizer.allows(_attrs("get", "configmaps", "", "c"))[0]
    # resourceNames grant a list or watch only when a metadata.name field selector names the object
    assert authorizer.allows(_attrs("watch", "leases", "team-a", "l1", LEASES))[0]
    assert not authorizer.allows(_attrs("watch", "leases", "team-a", "", LEASES))[0]
    assert not authorizer.allows(_attrs("list", "leases", "team-a", "l2", LEASES))[0]
    allowed, reason = authorizer.allows(_attrs("get", "secrets", "team-a", "s"))
    assert (allowed, reason) == (False, 'RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found')


def _rbac_objects(objects: list[dict[str, Any]]) -> list[tuple[str, str | None, str, Any, Any, Any]]:
    keep = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
    return sorted(
        (
            o["kind"],
            o["metadata"].get("namespace"),
            o["metadata"]["name"],
            o.get("rules"),
            o.get("roleRef"),
            o.get("subjects"),
        )
        for o in objects
        if o["kind"] in keep
    )


def test_the_workload_identity_overlay_ships_the_same_rbac():
    """So every flow below holds for `kubectl apply -k deploy/overlays/workload-identity/` too."""
    overlay = render(DEPLOY / "overlays" / "workload-identity")
    assert _rbac_objects(overlay) == _rbac_objects(deploy_objects())
    assert len(_rbac_objects(overlay)) == 9  # + the kube-proxy extension's ClusterRoleBinding


# ----- (a) the queue worker, as aci-connector-functions ---------------------------------------------------------------


def test_worker_flows_need_nothing_beyond_the_functions_rules(kube_api, arm, worker_context, rbac):
    kube_api.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "data": {"pw": "czNjcjN0"}})
    kube_api.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf"}, "data": {"mode": "prod"}})
    pod = make_pod()
    pod["spec"]["containers"][0]["env"] = [
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}},
        {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "conf", "key": "mode"}}},
    ]
    pod = kube_api.create(pod)
    arm.reject_image("registry.invalid/nope:1")
    rejected = make_pod("rejected")
    rejected["spec"]["containers"][0]["image"] = "registry.invalid/nope:1"
    rejected = kube_api.create(rejected)
    authorizer = rbac(FUNCTIONS_SA)

    assert process_message(upsert_text(pod), context=worker_context).action == "created"
    group = container_group_name(pod)
    env = worker_context.aci.get(group)["properties"]["containers"][0]["properties"]["environmentVariables"]
    assert {e["name"]: e.get("value") for e in env} == {"DB_PASSWORD": None, "MODE": "prod"}  # both were read

    arm.make_ready(group)
    sync = Message(op="sync", pod=None, source="eventgrid", group=group).to_text()
    assert process_message(sync, context=worker_context).action == "synced"
    assert kube_api.get("pods", "default", "web")["status"]["phase"] == "Running"

    assert process_message(upsert_text(rejected), context=worker_context).action == "failed"
    reasons = {e["reason"] for e in kube_api.list("events", "default")}
    assert "ProviderFailed" in reasons
    event = pod_event(rejected, reason="ProviderFailed", message="same again", event_type="Warning")
    worker_context.kube.create_event("default", event)
    bumped = worker_context.kube.create_event("default", event)  # AlreadyExists: GET, then PATCH the count
    assert bumped is not None and bumped["count"] == 2

    kube_api.delete("pods", "default", "web")  # graceful: the connector finishes it once the group is gone
    outcome = process_message(delete_text(pod), context=worker_context)
    if outcome.action == "deleting":
        wait_for(lambda: worker_context.aci.get(group) is None)
        outcome = process_message(delete_text(pod), context=worker_context)
    assert outcome.action == "deleted"
    assert kube_api.get("pods", "default", "web") is None

    assert_clean(
        authorizer,
        {
            ("get", "", "pods"),
            ("get", "", "secrets"),
            ("get", "", "configmaps"),
            ("patch", "", "pods/status"),
            ("create", "", "events"),
            ("get", "", "events"),
            ("patch", "", "events"),
            ("delete", "", "pods"),
        },
    )


# ----- (b) the reconciler, as aci-connector-functions -----------------------------------------------------------------


@pytest.fixture
def ctx(kube_api: Any, kube: Any, arm: Any, aci_adapter: Any, queue_store: Any) -> Context:
    settings = settings_for(kube_api.url, arm, ARM_READS_PER_MINUTE="6000")
    return Context(settings=settings, aci=aci_adapter, queue=queue_store, kube=kube)


def reconciler(ctx: Context) -> Reconciler:
    config = ReconcileConfig(
        retry=RetryPolicy(max_retries=1, backoff_seconds=0),
        unready_after_cycles=2,
        unready_after_seconds=0,
        lease_only_if_older_than=0,
    )
    return Reconciler(ctx, config=config)


def drain(ctx: Context) -> list[str]:
    client = ctx.queue.client(POD_EVENTS_QUEUE)
    actions = []
    for message in client.receive_messages(max_messages=32, visibility_timeout=5):
        actions.append(process_message(message.content, context=ctx).action)
        client.delete_message(message)
    return actions


def test_reconciler_node_and_lease_upkeep_need_nothing_beyond_the_functions_rules(kube_api, arm, ctx, rbac):
    authorizer = rbac(FUNCTIONS_SA)
    rec = reconciler(ctx)
    assert f"{NODE}:create" in rec.run_cycle().node_writes
    assert kube_api.get("leases", "kube-node-lease", NODE) is not None
    time.sleep(0.01)
    assert rec.run_cycle().lease_renewals >= 1  # GET + PUT of the existing Lease

    node = kube_api.get("nodes", None, NODE)
    node["metadata"]["labels"]["type"] = "something-else"
    kube_api.update(node)
    assert f"{NODE}:meta" in rec.run_cycle().node_writes

    arm.faults.fail("list", count=100, status=503)  # ACI unreachable: the node goes NotReady (a status patch)
    writes = rec.run_cycle().node_writes + rec.run_cycle().node_writes
    assert f"{NODE}:status" in writes
    ready = next(c for c in kube_api.get("nodes", None, NODE)["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    arm.faults.clear()

    assert_clean(
        authorizer,
        {
            ("get", "", "nodes"),
            ("create", "", "nodes"),
            ("patch", "", "nodes"),
            ("patch", "", "nodes/status"),
            ("get", LEASES, "leases"),
            ("create", LEASES, "leases"),
            ("update", LEASES, "leases"),
            ("list", "", "pods"),
        },
    )


def test_reconciler_pod_upkeep_needs_nothing_beyond_the_functions_rules(kube_api, arm, ctx, rbac):
    authorizer = rbac(FUNCTIONS_SA)
    web = kube_api.create(make_spot_pod())  # a Spot group shows ACI events, so the reconciler writes Events
    gone = kube_api.create(make_pod("gone"))
    rec = reconciler(ctx)
    assert rec.run_cycle().enqueued == 2
    assert sorted(drain(ctx)) == ["created", "created"]
    arm.make_ready(container_group_name(web))

    report = rec.run_cycle()
    assert report.status_patches >= 1 and report.events_written >= 1
    assert kube_api.get("pods", "default", "web")["status"]["phase"] == "Running"
    reconciler(ctx).run_cycle()  # a fresh process re-reads the Events it already wrote (GET, no rewrite)

    kube_api.delete("pods", "default", "gone", grace_period_seconds=0)  # vanished: its group is an orphan
    assert rec.run_cycle().orphans_deleted == 1
    assert wait_for(lambda: ctx.aci.get(container_group_name(gone)) is None)

    kube_api.delete("pods", "default", "web")  # graceful: group first, then the pod
    assert rec.run_cycle().groups_deleted == 1
    wait_for(lambda: ctx.aci.get(container_group_name(web)) is None)
    assert rec.run_cycle().pods_removed == 1
    assert kube_api.get("pods", "default", "web") is None

    assert_clean(
        authorizer,
        {
            ("list", "", "pods"),
            ("get", "", "pods"),
            ("patch", "", "pods/status"),
            ("create", "", "events"),
            ("get", "", "events"),
            ("delete", "", "pods"),
        },
    )


# ----- (c) the capacity service, as aci-connector-functions -----------------------------------------------------------


def test_capacity_listing_needs_nothing_beyond_the_functions_rules(kube_api, kube, arm, aci_adapter, rbac):
    pod = make_pod("big", node=None)
    pod["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "1500m", "memory": "1Gi"}}
    kube_api.create(pod)
    kube_api.bind("default", "big", NODE)
    authorizer = rbac(FUNCTIONS_SA)
    settings = settings_for(kube_api.url, arm, VIRTUAL_NODE_OS="linux,windows")
    report = CapacityService(settings, aci=lambda: aci_adapter, kube=lambda: kube).report()
    linux = next(n for n in report["nodes"] if n["name"] == NODE)
    assert linux["podsSource"] == "kubernetes"
    assert linux["requested"]["quantities"]["cpu"] == "1500m"
    assert_clean(authorizer, {("list", "", "pods")})


# ----- (d) the watch relay, as aci-connector-relay --------------------------------------------------------------------


@pytest.fixture
def relay(kube_client: Any, queue_store: Any) -> Iterator[Callable[[], Relay]]:
    started: list[Relay] = []

    def make() -> Relay:
        config = RelayConfig(
            nodes=(NODE,),
            coalesce_seconds=0.2,
            health_port=None,
            flush_seconds=5.0,
            renew_leases=True,
            lease_interval=0.2,
        )
        started.append(Relay(config, KubeClient(kube_client), QueuePutter(queue_store)))
        started[-1].start()
        return started[-1]

    yield make
    for each in started:
        each.stop()


def test_relay_needs_nothing_beyond_the_relay_rules(kube_api, queue_store, relay, rbac):
    kube_api.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}})
    authorizer = rbac(RELAY_SA)
    running = relay()
    wait_for(running.ready)
    kube_api.create(make_pod())
    client = queue_store.client(POD_EVENTS_QUEUE)
    received = wait_for(lambda: list(client.receive_messages(max_messages=32, visibility_timeout=60)))
    assert [(m.op, m.pod.name) for m in map(lambda r: parse_message(r.content), received)] == [("upsert", "web")]
    wait_for(lambda: running.metrics.get("lease_renewals") >= 2)  # created, then updated
    lease = kube_api.get("leases", "kube-node-lease", NODE)
    assert lease["metadata"]["ownerReferences"][0]["name"] == NODE  # the Node was readable
    assert running.metrics.get("lease_errors") == 0
    assert_clean(
        authorizer,
        {
            ("list", "", "pods"),
            ("watch", "", "pods"),
            ("get", "", "nodes"),
            ("get", LEASES, "leases"),
            ("create", LEASES, "leases"),
            ("update", LEASES, "leases"),
        },
    )


# ----- the flows would catch a missing grant --------------------------------------------------------------------------


def _without(objects: list[dict[str, Any]], role: str, resource: str) -> RbacPolicy:
    for obj in objects:
        if obj["kind"] in ("ClusterRole", "Role") and obj["metadata"]["name"] == role:
            obj["rules"] = [r for r in obj["rules"] if resource not in r["resources"]]
    return RbacPolicy(objects)


def test_a_rule_dropped_from_the_functions_role_shows_up_as_a_403_in_the_worker(kube_api, arm, worker_context, rbac):
    pod = kube_api.create(make_pod())
    authorizer = rbac(FUNCTIONS_SA, _without(deploy_objects(), "aci-connector-functions", "pods/status"))
    with pytest.raises(KubeApiError) as refused:
        process_message(upsert_text(pod), context=worker_context)
    assert refused.value.status == 403
    assert [str(a) for a in authorizer.denied] == ["patch core/pods/status ns=default name=web"]


def test_a_relay_without_its_lease_role_is_refused_and_counts_errors(kube_api, queue_store, relay, rbac):
    authorizer = rbac(RELAY_SA, _without(deploy_objects(), "aci-connector-relay-leases", "leases"))
    running = relay()
    wait_for(lambda: running.metrics.get("lease_errors") >= 1)
    assert any(a.resource == "leases" for a in authorizer.denied)
    assert running.metrics.get("lease_renewals") == 0
