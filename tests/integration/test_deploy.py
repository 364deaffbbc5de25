"""deploy/ renders with kustomize, every object is valid Kubernetes, and RBAC grants exactly what the code calls.

The API calls are a static table (CALLS) kept honest by a scan of the code: every Kubernetes REST path the
code spells (string literals and f-strings, module constants substituted), every subresource suffix and every
get_namespaced resource must be in the table, with the principal that makes it (the relay for the relay's
modules, the Function App for the rest). Then each call must be allowed by the rendered Roles/ClusterRoles
bound to that principal's ServiceAccount, and every grant must be a call in the table: least privilege in
both directions.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from shared.config import load_settings, setting_names
from shared.kube import KubeClient
from shared.node import PROFILES
from tests.fakes.kube_fixtures import kube_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
K8S_VERSION = "1.30"
NAMESPACE = "aci-connector"
SA = {"relay": "aci-connector-relay", "functions": "aci-connector-functions"}
VIRTUAL_NODES = tuple(name for profile in PROFILES.values() for name in profile.node_names.values())
"""The node names of every profile (VIRTUAL_NODE_PROFILE): the RBAC names them all, so switching needs no edit."""
ANY_NS = "some-app-namespace"
"""Pods on the virtual nodes live in any namespace: a grant must hold there, not only in aci-connector."""
NODE = "<virtual node>"
SUBRESOURCE = re.compile(
    r"/(status|binding|eviction|log|exec|attach|portforward|proxy|ephemeralcontainers|resize|token)"
)


@dataclass(frozen=True)
class Call:
    principal: str  # "relay" or "functions"
    verb: str
    group: str
    resource: str  # "pods" or "pods/status"
    namespace: str | None  # None: cluster-scoped
    name: str | None = None  # NODE: each virtual node's name; None: no name (list, create, watch)


def _both(*args: Any, **kwargs: Any) -> list[Call]:
    return [Call("relay", *args, **kwargs), Call("functions", *args, **kwargs)]


LEASES = "coordination.k8s.io"
CALLS: dict[str, list[Call]] = {
    # KubeClient.list_pods (reconciler) and the relay's list + watch of pods per virtual node.
    "/api/v1/pods": [
        *_both("list", "", "pods", ANY_NS),
        *_both("watch", "", "pods", ANY_NS),
    ],
    # KubeClient.get_pod / delete_pod_now (grace 0, once ACI's group is gone).
    "/api/v1/namespaces/{}/pods/{}": [
        *_both("get", "", "pods", ANY_NS),
        Call("functions", "delete", "", "pods", ANY_NS),
    ],
    # KubeClient.patch_pod_status (_pod_path(...) + "/status") and the reconciler's node status (node_path + "/status").
    "+/status": [
        Call("functions", "patch", "", "pods/status", ANY_NS),
        Call("functions", "get", "", "pods/status", ANY_NS),
        Call("functions", "update", "", "pods/status", ANY_NS),
        Call("functions", "patch", "", "nodes/status", None, NODE),
        Call("functions", "update", "", "nodes/status", None, NODE),
        # The relay's kubelet API advertises its address in the node status (shared/relay/kubelet/advertise.py).
        Call("relay", "patch", "", "nodes/status", None, NODE),
    ],
    # KubeClient.namespace_uid, for tags.cluster_id: the default cluster identity is the kube-system uid.
    "/api/v1/namespaces/{}": [Call("functions", "get", "", "namespaces", None, "kube-system")],
    # KubeClient.get_namespaced(resource, ...): the resources are the literal first arguments at the call sites.
    "/api/v1/namespaces/{}/{}/{}": [],
    "get_namespaced:secrets": [Call("functions", "get", "", "secrets", ANY_NS)],
    "get_namespaced:configmaps": [Call("functions", "get", "", "configmaps", ANY_NS)],
    # The worker checks for its ProviderCreated Event before repeating the announcements a crash cut short.
    "get_namespaced:events": [Call("functions", "get", "", "events", ANY_NS)],
    # shared/kube/pod_inputs.py reads the pod's ServiceAccount (automountServiceAccountToken).
    "get_namespaced:serviceaccounts": [Call("functions", "get", "", "serviceaccounts", ANY_NS)],
    # shared/kube/claims.py: a pod's PersistentVolumeClaims and the PersistentVolumes they are bound to.
    "get_namespaced:persistentvolumeclaims": [Call("functions", "get", "", "persistentvolumeclaims", ANY_NS)],
    "/api/v1/persistentvolumes/{}": [Call("functions", "get", "", "persistentvolumes", None)],
    # KubeClient.create_token: TokenRequests for pods' ServiceAccounts (bound to the pod) and for kube-proxy.
    "/api/v1/namespaces/{}/serviceaccounts/{}/token": [
        Call("functions", "create", "", "serviceaccounts/token", ANY_NS),
    ],
    # KubeClient.create_event: POST, then GET + PATCH of the same name to bump its count.
    "/api/v1/namespaces/{}/events": [
        Call("functions", "create", "", "events", ANY_NS),
        Call("functions", "get", "", "events", ANY_NS),
        Call("functions", "patch", "", "events", ANY_NS),
    ],
    # shared/kube/lease.py: GET, POST when missing, PUT with the read resourceVersion (relay and reconciler).
    "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases": [
        *_both("get", LEASES, "leases", "kube-node-lease", NODE),
        *_both("create", LEASES, "leases", "kube-node-lease"),
        *_both("update", LEASES, "leases", "kube-node-lease", NODE),
        Call("functions", "patch", LEASES, "leases", "kube-node-lease", NODE),
    ],
    # shared/kube/lease.py reads the Node for the Lease's ownerReference; shared/reconcile/nodes.py keeps it current.
    "/api/v1/nodes/{}": [
        *_both("get", "", "nodes", None, NODE),
        Call("functions", "patch", "", "nodes", None, NODE),
        Call("functions", "update", "", "nodes", None, NODE),
        Call("relay", "patch", "", "nodes", None, NODE),
    ],
    # The relay's kubelet API checks callers as a kubelet in webhook mode does (shared/relay/kubelet/auth.py).
    "/apis/authentication.k8s.io/v1/tokenreviews": [
        Call("relay", "create", "authentication.k8s.io", "tokenreviews", None),
    ],
    "/apis/authorization.k8s.io/v1/subjectaccessreviews": [
        Call("relay", "create", "authorization.k8s.io", "subjectaccessreviews", None),
    ],
    # shared/reconcile/nodes.py registers the virtual nodes (POST); reconcile/unserved.py lists one name to learn
    # that no Node of that name exists (get is limited to the virtual nodes' names).
    "/api/v1/nodes": [
        Call("functions", "create", "", "nodes", None),
        Call("functions", "list", "", "nodes", None),
    ],
}
KUBE_METHODS: dict[str, list[str]] = {
    "get_pod": ["/api/v1/namespaces/{}/pods/{}"],
    "list_pods": ["/api/v1/pods"],
    "patch_pod_status": ["+/status"],
    "delete_pod_now": ["/api/v1/namespaces/{}/pods/{}"],
    "get_namespaced": [],  # by its literal resource argument, see the scan
    "create_event": ["/api/v1/namespaces/{}/events"],
    "namespace_uid": ["/api/v1/namespaces/{}"],
    "create_token": ["/api/v1/namespaces/{}/serviceaccounts/{}/token"],
}
"""KubeClient methods that build their own paths; request/get/watch take the caller's path (scanned there)."""


# ----- the code scan --------------------------------------------------------------------------------------------------


def _module_constants(tree: ast.Module) -> dict[str, str]:
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(getattr(node, "value", None), ast.Constant):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    out[target.id] = node.value.value
    return out


def fingerprints(source: str) -> set[str]:
    """API paths, subresource suffixes and get_namespaced resources a module spells."""
    tree = ast.parse(source)
    constants = _module_constants(tree)
    inside_fstrings = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    found: set[str] = set()
    for node in ast.walk(tree):
        text = None
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                if isinstance(value, ast.Constant):
                    parts.append(str(value.value))
                elif isinstance(value.value, ast.Name) and value.value.id in constants:
                    parts.append(constants[value.value.id])
                else:
                    parts.append("{}")
            text = "".join(parts)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in inside_fstrings:
            text = node.value
        if text is not None:
            if re.match(r"^/apis?(/|$)", text):
                found.add(text.rstrip("/"))
            elif SUBRESOURCE.fullmatch(text):
                found.add("+" + text)
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "get_namespaced" and node.args:
            first = node.args[0]
            literal = isinstance(first, ast.Constant) and isinstance(first.value, str)
            found.add(f"get_namespaced:{first.value if literal else '?'}")
    return found


def kube_method_calls(source: str) -> set[str]:
    return {
        node.func.attr
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in KUBE_METHODS
    }


def _imports(path: Path) -> set[Path]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if name.startswith("shared"):
                base = ROOT / Path(*name.split("."))
                for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                    if candidate.exists():
                        out.add(candidate)
    return out


def relay_modules() -> set[Path]:
    """shared/relay/ and every shared module it imports (transitively), except the generic shared/kube/client.py."""
    todo = list((ROOT / "shared" / "relay").rglob("*.py"))
    seen: set[Path] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(_imports(path) - seen)
    return seen - {ROOT / "shared" / "kube" / "client.py"}


def code_files() -> list[Path]:
    return [
        *sorted((ROOT / "shared").rglob("*.py")),
        *sorted((ROOT / "functions").glob("*.py")),
        ROOT / "function_app.py",
    ]


def _principals(key: str) -> set[str]:
    return {call.principal for call in CALLS.get(key, [])}


def test_the_scan_finds_the_paths_it_must():
    source = (
        'BASE = "kube-node-lease"\n'
        'a = f"/apis/coordination.k8s.io/v1/namespaces/{BASE}/leases"\n'
        'b = f"/api/v1/nodes/{name}"\n'
        'c = path + "/status"\n'
        'kube.get_namespaced("secrets", ns, n)\n'
        "kube.get_namespaced(kind, ns, n)\n"
    )
    assert fingerprints(source) == {
        "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
        "/api/v1/nodes/{}",
        "+/status",
        "get_namespaced:secrets",
        "get_namespaced:?",
    }


def test_every_api_path_in_the_code_is_in_the_table():
    relay = relay_modules()
    unknown: list[str] = []
    for path in code_files():
        source = path.read_text()
        for key in sorted(fingerprints(source)):
            rel = path.relative_to(ROOT)
            if key not in CALLS:
                unknown.append(f"{rel}: {key}")
            elif path in relay and "relay" not in _principals(key) and key != "/api/v1/namespaces/{}/{}/{}":
                unknown.append(f"{rel}: {key} is used by the relay but the table gives it no relay call")
            elif "relay" not in path.parts and "functions" not in _principals(key) and CALLS[key]:
                unknown.append(f"{rel}: {key} is used by the Function App but has no functions call")
        if path in relay:
            for method in kube_method_calls(source):
                for key in KUBE_METHODS[method]:
                    if "relay" not in _principals(key):
                        unknown.append(f"{rel}: relay calls KubeClient.{method} ({key}) without a relay entry")
    assert not unknown, "add these to CALLS (and grant them in deploy/base/rbac-*.yaml):\n" + "\n".join(unknown)


def test_every_table_entry_is_still_in_the_code():
    spelled = set().union(*(fingerprints(path.read_text()) for path in code_files()))
    stale = sorted(set(CALLS) - spelled)
    assert not stale, f"the code no longer makes these calls: drop them from CALLS and from RBAC: {stale}"


def test_kube_methods_table_covers_the_client():
    public = {name for name in vars(KubeClient) if not name.startswith("_") and callable(getattr(KubeClient, name))}
    assert public - {"request", "get", "watch"} == set(KUBE_METHODS)


# ----- rendering and schema -------------------------------------------------------------------------------------------


def render(target: Path) -> list[dict[str, Any]]:
    if not Path(KUBECTL).exists():
        pytest.skip("kubectl is not installed")
    result = subprocess.run(
        [KUBECTL, "kustomize", str(target)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def base() -> list[dict[str, Any]]:
    return render(DEPLOY)


@pytest.fixture(scope="module")
def workload_identity() -> list[dict[str, Any]]:
    return render(DEPLOY / "overlays" / "workload-identity")


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"].startswith(name)]
    assert len(matches) == 1, f"{kind} {name}: {len(matches)} found"
    return matches[0]


def test_every_manifest_file_parses_and_validates():
    files = [p for p in DEPLOY.rglob("*.yaml") if p.name != "kustomization.yaml"]
    assert len(files) >= 7
    for path in files:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("variant", ["base", "workload_identity"])
def test_rendered_objects_validate(variant: str, request: pytest.FixtureRequest):
    objects = request.getfixturevalue(variant)
    kinds = sorted(o["kind"] for o in objects)
    assert kinds.count("ServiceAccount") == 3 and "Deployment" in kinds and "Namespace" in kinds
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        if obj["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert obj["metadata"].get("namespace") in (NAMESPACE, "kube-node-lease"), obj["metadata"]


# ----- the relay Deployment -------------------------------------------------------------------------------------------


def relay_env(objects: list[dict[str, Any]]) -> dict[str, str]:
    return find(objects, "ConfigMap", "aci-connector-relay")["data"]


def test_relay_settings_are_declared_and_valid(base: list[dict[str, Any]]):
    env = relay_env(base)
    assert set(env) <= set(setting_names()), set(env) - set(setting_names())
    settings = load_settings(env)
    assert settings["KUBE_IN_CLUSTER"] is True
    (container,) = find(base, "Deployment", "aci-connector-relay")["spec"]["template"]["spec"]["containers"]
    from_pod = {item["name"] for item in container.get("env") or []}  # downward API: the pod's IP and name
    assert all(not name.startswith("RELAY_") or name in env or name in from_pod for name in setting_names())


def test_relay_pod_is_locked_down_and_probed_on_its_health_port(base: list[dict[str, Any]]):
    deployment = find(base, "Deployment", "aci-connector-relay")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["serviceAccountName"] == SA["relay"]
    assert pod["automountServiceAccountToken"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert {"cpu", "memory"} <= set(container["resources"]["requests"]) | set(container["resources"]["limits"])
    assert set(container["resources"]["limits"]) == {"cpu", "memory"}
    port = int(load_settings(relay_env(base))["RELAY_HEALTH_PORT"])
    (health,) = [p for p in container["ports"] if p["name"] == "health"]
    assert health["containerPort"] == port
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    assert container["image"] == "aci-connector-relay", "declared once, by its bare name; the user sets theirs"
    sources = container["envFrom"]
    config_map = find(base, "ConfigMap", "aci-connector-relay")["metadata"]["name"]
    assert {"configMapRef": {"name": config_map}} in sources, "kustomize rewrites the generated name"
    assert {"secretRef": {"name": "aci-connector-storage", "optional": True}} in sources


def test_storage_secret_template_uses_declared_settings():
    (secret,) = [d for d in yaml.safe_load_all((DEPLOY / "storage-secret.template.yaml").read_text()) if d]
    assert set(secret["stringData"]) <= set(setting_names())
    assert secret["metadata"] == {"name": "aci-connector-storage", "namespace": NAMESPACE}


def test_workload_identity_overlay_binds_the_relay(workload_identity: list[dict[str, Any]]):
    account = find(workload_identity, "ServiceAccount", SA["relay"])
    assert "azure.workload.identity/client-id" in account["metadata"]["annotations"]
    deployment = find(workload_identity, "Deployment", "aci-connector-relay")
    assert deployment["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    env = relay_env(workload_identity)
    assert env["AzureWebJobsStorage__queueServiceUri"].startswith("https://")
    assert "AzureWebJobsStorage" not in env


def test_functions_token_secret_belongs_to_the_functions_service_account(base: list[dict[str, Any]]):
    secret = find(base, "Secret", "aci-connector-functions-token")
    assert secret["type"] == "kubernetes.io/service-account-token"
    assert secret["metadata"]["annotations"]["kubernetes.io/service-account.name"] == SA["functions"]
    assert find(base, "ServiceAccount", SA["functions"])["metadata"]["namespace"] == secret["metadata"]["namespace"]


def test_dockerfile_builds_the_relay_as_non_root():
    lines = [line.strip() for line in (DEPLOY / "relay" / "Dockerfile").read_text().splitlines()]
    assert f"FROM python:{sys.version_info.major}.{sys.version_info.minor}-slim" in lines
    assert "RUN pip install -r requirements.txt" in lines
    assert "USER 10001:10001" in lines
    assert lines[-1] == 'ENTRYPOINT ["python", "-m", "shared.relay"]'
    assert (ROOT / "shared" / "relay" / "__main__.py").exists()
    deployment = yaml.safe_load((DEPLOY / "base" / "relay-deployment.yaml").read_text())
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 10001


# ----- RBAC -----------------------------------------------------------------------------------------------------------


def _rules_for(objects: list[dict[str, Any]], principal: str) -> list[tuple[str | None, dict[str, Any]]]:
    """(namespace the rule is limited to, or None for cluster-wide; rule) for every rule bound to the SA."""
    subject = {"kind": "ServiceAccount", "name": SA[principal], "namespace": NAMESPACE}
    roles = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objects}
    out: list[tuple[str | None, dict[str, Any]]] = []
    for binding in objects:
        if binding["kind"] not in ("ClusterRoleBinding", "RoleBinding") or subject not in binding["subjects"]:
            continue
        ref = binding["roleRef"]
        scope = binding["metadata"].get("namespace") if binding["kind"] == "RoleBinding" else None
        role = roles[(ref["kind"], scope if ref["kind"] == "Role" else None, ref["name"])]
        out.extend((scope, rule) for rule in role["rules"])
    return out


def _allows(rule: dict[str, Any], verb: str, group: str, resource: str, name: str | None) -> bool:
    names = rule.get("resourceNames") or []
    return (
        verb in rule["verbs"]
        and group in rule["apiGroups"]
        and resource in rule["resources"]
        and (not names or (name is not None and name in names))
    )


def allowed(objects: list[dict[str, Any]], call: Call, name: str | None) -> bool:
    for scope, rule in _rules_for(objects, call.principal):
        if scope is not None and scope != call.namespace:
            continue
        if _allows(rule, call.verb, call.group, call.resource, name):
            return True
    return False


def _names(call: Call) -> tuple[str | None, ...]:
    return VIRTUAL_NODES if call.name == NODE else (call.name,)


@pytest.mark.parametrize("principal", sorted(SA))
def test_rbac_allows_every_call_in_the_table(base: list[dict[str, Any]], principal: str):
    denied = [
        f"{c.verb} {c.group or 'core'}/{c.resource} ns={c.namespace} name={name}"
        for calls in CALLS.values()
        for c in calls
        if c.principal == principal
        for name in _names(c)
        if not allowed(base, c, name)
    ]
    assert not denied, f"{SA[principal]} is denied: {denied}"


@pytest.mark.parametrize("principal", sorted(SA))
def test_rbac_grants_nothing_beyond_the_table(base: list[dict[str, Any]], principal: str):
    needed = {
        (c.verb, c.group, c.resource, c.namespace if c.namespace == "kube-node-lease" else None, c.name is not None)
        for calls in CALLS.values()
        for c in calls
        if c.principal == principal
    }
    rules = _rules_for(base, principal)
    assert rules, f"nothing is bound to {SA[principal]}"
    for scope, rule in rules:
        assert "*" not in rule["verbs"] + rule["apiGroups"] + rule["resources"], rule
        if rule.get("resourceNames"):
            fixed = sorted(
                {c.name for calls in CALLS.values() for c in calls if c.principal == principal}
                & set(rule["resourceNames"])
            )  # a name the table spells out (kube-system), else the virtual nodes
            expected = fixed or sorted(VIRTUAL_NODES)
            assert sorted(rule["resourceNames"]) == expected, "names must be the virtual nodes or ones in CALLS"
        for verb in rule["verbs"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    named = bool(rule.get("resourceNames"))
                    key = (verb, group, resource, scope)
                    assert (*key, named) in needed or (not named and (*key, True) in needed and verb == "create"), (
                        f"{SA[principal]} is granted {verb} {group or 'core'}/{resource} (ns={scope}, "
                        f"named={named}) but nothing in CALLS needs it"
                    )


def test_relay_cannot_write_pods_or_read_secrets(base: list[dict[str, Any]]):
    for verb, resource in (("delete", "pods"), ("patch", "pods/status"), ("get", "secrets"), ("create", "nodes")):
        assert not allowed(base, Call("relay", verb, "", resource, ANY_NS), None)
    other_lease = Call("functions", "update", LEASES, "leases", "kube-node-lease")
    assert not allowed(base, other_lease, "a-real-node"), "only the virtual nodes' Leases may be written"


def _http_status(url: str) -> int | None:
    """The HTTP status of a GET, None while nothing listens yet (the relay is still starting)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def test_relay_serves_the_probes_the_deployment_declares(
    base: list[dict[str, Any]], kube_api: Any, azurite: Any, tmp_path: Path
):
    """`python -m shared.relay` with the ConfigMap's settings (cluster reached by URL instead of in-cluster)."""
    import os
    import socket
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "RELAY_", "AzureWebJobs"))}
    env.update(relay_env(base))
    env.update(
        {
            "KUBE_IN_CLUSTER": "false",
            **kube_settings(kube_api.url),
            "RELAY_HEALTH_PORT": str(port),
            "AzureWebJobsStorage": azurite.connection_string,
        }
    )
    deployment = find(base, "Deployment", "aci-connector-relay")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    paths = [container[probe]["httpGet"]["path"] for probe in ("livenessProbe", "readinessProbe")]
    log = (tmp_path / "relay.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "shared.relay"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        answers: dict[str, int | None] = {}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and set(answers.values()) != {200}:
            answers = {path: _http_status(f"http://127.0.0.1:{port}{path}") for path in paths}
            time.sleep(0.2)
        assert process.poll() is None, (tmp_path / "relay.log").read_text()
        assert answers == dict.fromkeys(paths, 200), (answers, (tmp_path / "relay.log").read_text()[-2000:])
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


USER_IMAGE = ("myacr.azurecr.io/relay", "1.2")


def _set_image(kustomization: Path) -> None:
    """What `kustomize edit set image aci-connector-relay=myacr.azurecr.io/relay:1.2` writes there."""
    doc = yaml.safe_load(kustomization.read_text())
    doc.setdefault("images", []).append(
        {"name": "aci-connector-relay", "newName": USER_IMAGE[0], "newTag": USER_IMAGE[1]}
    )
    kustomization.write_text(yaml.safe_dump(doc))


@pytest.mark.parametrize("where", ["", *(f"overlays/{p.name}" for p in sorted((DEPLOY / "overlays").iterdir()))])
def test_users_image_override_takes_effect(where: str, tmp_path: Path):
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    _set_image(copy / where / "kustomization.yaml")
    deployment = find(render(copy / where), "Deployment", "aci-connector-relay")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"{USER_IMAGE[0]}:{USER_IMAGE[1]}"
