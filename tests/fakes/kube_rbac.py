"""Kubernetes RBAC for the fake apiserver: the Roles and bindings deploy/ ships, enforced for one ServiceAccount.

test_deploy.py compares a hand-written table of calls with the rules; this module lets the connector's real
flows run against a fake that refuses, with the apiserver's own 403 Status, whatever the shipped rules do not
grant. The semantics follow the apiserver (k8s.io/apiserver requestinfo + plugin/pkg/auth/authorizer/rbac):

- verb from the request: GET/HEAD on an object = get, on a collection = list (watch with ?watch=true, any value
  but "0"/"false"), POST = create, PUT = update, PATCH = patch, DELETE = delete (deletecollection without a name);
- a list or watch with `fieldSelector=metadata.name=X` is authorized as a request for the object X (so a rule
  with resourceNames can grant it); create and unnamed list/watch carry no name, so resourceNames never grant them;
- resources as `pods` or `pods/status`; `*` and `*/status` wildcards; apiGroups and verbs with `*`;
- ClusterRoleBindings grant everywhere (cluster scope and every namespace); RoleBindings (to a Role or a
  ClusterRole) only inside their own namespace, never at cluster scope;
- subjects: the ServiceAccount itself, the User `system:serviceaccount:<ns>:<name>`, or its Groups
  (`system:serviceaccounts`, `system:serviceaccounts:<ns>`, `system:authenticated`);
- ClusterRoles with an aggregationRule get the rules of the ClusterRoles their selectors pick, as the
  aggregation controller would write them.

Only resource requests are authorized: discovery (/api, /apis, /version, /openapi) is open to every
authenticated user through the default system:discovery binding, and the fake serves no other paths.
Not modelled: the default system:* roles (system:basic-user grants only self-reviews, which the fake does not
serve), impersonation, and the Node authorizer (it never opines on ServiceAccounts).
"""

from __future__ import annotations

import copy
import functools
import shutil
import subprocess
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.fakes.kube_api import KubeApiServer, Target
from tests.fakes.kube_errors import KubeError
from tests.fakes.kube_query import parse_bool

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
METHOD_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True)
class Subject:
    """A ServiceAccount as the authenticator presents it: a user name and its groups."""

    namespace: str
    name: str

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"

    @property
    def groups(self) -> tuple[str, ...]:
        return ("system:serviceaccounts", f"system:serviceaccounts:{self.namespace}", "system:authenticated")


FUNCTIONS_SA = Subject("aci-connector", "aci-connector-functions")
RELAY_SA = Subject("aci-connector", "aci-connector-relay")


@dataclass(frozen=True)
class Attributes:
    """What the apiserver authorizes for a resource request (its RequestInfo)."""

    verb: str
    api_group: str
    api_version: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""

    @property
    def combined(self) -> str:
        """`pods/status` for a subresource, as RBAC rules spell it."""
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    def __str__(self) -> str:
        where = f"ns={self.namespace}" if self.namespace else "cluster"
        return f"{self.verb} {self.api_group or 'core'}/{self.combined} {where} name={self.name or '-'}"


# ----- request -> attributes ------------------------------------------------------------------------------------------


def selected_name(field_selector: str | None) -> str:
    """The name a `metadata.name=X` (or `==`) term pins, as fields.Selector.RequiresExactMatch finds it."""
    for term in (field_selector or "").split(","):
        for operator in ("==", "="):
            key, sep, value = term.partition(operator)
            if sep and not key.endswith("!") and key.strip() == "metadata.name":
                return value.strip()
    return ""


def request_attributes(method: str, target: Target, query: Mapping[str, str]) -> Attributes:
    """Map an HTTP request on a parsed resource URL onto RBAC attributes, as the apiserver's RequestInfo does."""
    verb = METHOD_VERBS.get(method.upper(), method.lower())
    name = target.name or ""
    if not name and verb == "get":
        verb = "watch" if parse_bool(query.get("watch")) else "list"
        name = selected_name(query.get("fieldSelector"))
    if not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(
        verb=verb,
        api_group=target.rt.group,
        api_version=target.rt.version,
        resource=target.rt.plural,
        subresource=target.subresource or "",
        namespace=target.namespace or "",
        name=name,
    )


# ----- the policy -----------------------------------------------------------------------------------------------------


def _matches_selector(labels: Mapping[str, str], selector: Mapping[str, Any]) -> bool:
    """A metav1.LabelSelector (matchLabels + matchExpressions) against an object's labels."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        present = key in labels
        checks = {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels.get(key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }
        if operator not in checks:
            raise ValueError(f"unknown label selector operator {operator!r}")
        if not checks[operator]:
            return False
    return True


class RbacPolicy:
    """The Roles, ClusterRoles and their bindings of a set of manifests (other kinds are ignored)."""

    def __init__(self, objects: Iterable[Mapping[str, Any]]) -> None:
        rbac = [copy.deepcopy(dict(o)) for o in objects if o and o.get("kind") in RBAC_KINDS]
        for obj in rbac:
            if not str(obj.get("apiVersion", "")).startswith("rbac.authorization.k8s.io/"):
                raise ValueError(f"{obj['kind']} {obj['metadata']['name']}: apiVersion {obj.get('apiVersion')}")
        self.cluster_roles = {o["metadata"]["name"]: o for o in rbac if o["kind"] == "ClusterRole"}
        self.roles = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in rbac if o["kind"] == "Role"}
        self.cluster_role_bindings = [o for o in rbac if o["kind"] == "ClusterRoleBinding"]
        self.role_bindings = [o for o in rbac if o["kind"] == "RoleBinding"]
        for binding in self.role_bindings:
            if not binding["metadata"].get("namespace"):
                raise ValueError(f"RoleBinding {binding['metadata']['name']} has no namespace")
        self._aggregate()

    @classmethod
    def from_kustomization(cls, target: Path = DEPLOY) -> RbacPolicy:
        return cls(render(target))

    def _aggregate(self) -> None:
        for role in self.cluster_roles.values():
            selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
            if not selectors:
                continue
            rules = list(role.get("rules") or [])
            for other in self.cluster_roles.values():
                labels = other["metadata"].get("labels") or {}
                if other is not role and any(_matches_selector(labels, s) for s in selectors):
                    rules.extend(r for r in other.get("rules") or [] if r not in rules)
            role["rules"] = rules

    def _role_rules(self, ref: Mapping[str, Any], namespace: str) -> tuple[list[dict[str, Any]], str | None]:
        """(rules, error) of a roleRef; a missing role grants nothing and is reported as the apiserver does."""
        if ref.get("kind") == "ClusterRole":
            role = self.cluster_roles.get(ref["name"])
            missing = f'clusterrole.rbac.authorization.k8s.io "{ref["name"]}" not found'
        elif ref.get("kind") == "Role":
            role = self.roles.get((namespace, ref["name"]))
            missing = f'role.rbac.authorization.k8s.io "{ref["name"]}" not found'
        else:
            return [], f"unsupported role reference kind: {ref.get('kind')!r}"
        return (list(role.get("rules") or []), None) if role is not None else ([], missing)

    def rules_for(self, subject: Subject, namespace: str) -> tuple[list[dict[str, Any]], list[str]]:
        """Every rule that applies to `subject` for a request in `namespace` ("" = cluster scope), and errors."""
        rules: list[dict[str, Any]] = []
        errors: list[str] = []
        scoped = [(b, "") for b in self.cluster_role_bindings]
        if namespace:
            scoped += [(b, namespace) for b in self.role_bindings if b["metadata"]["namespace"] == namespace]
        for binding, binding_namespace in scoped:
            if not any(_applies(s, subject, binding_namespace) for s in binding.get("subjects") or []):
                continue
            found, error = self._role_rules(binding["roleRef"], binding_namespace)
            rules.extend(found)
            if error:
                errors.append(error)
        return rules, errors


def _applies(entry: Mapping[str, Any], subject: Subject, binding_namespace: str) -> bool:
    """rbac.appliesToUser: a binding subject naming this ServiceAccount, its user name or one of its groups."""
    kind = entry.get("kind")
    if kind == "User":
        return entry.get("name") == subject.user
    if kind == "Group":
        return entry.get("name") in subject.groups
    if kind == "ServiceAccount":
        namespace = entry.get("namespace") or binding_namespace
        return bool(namespace) and (namespace, entry.get("name")) == (subject.namespace, subject.name)
    return False


def rule_allows(rule: Mapping[str, Any], attributes: Attributes) -> bool:
    """rbac.RuleAllows for a resource request: verb, API group, resource (with wildcards) and resourceNames."""
    verbs = rule.get("verbs") or []
    groups = rule.get("apiGroups") or []
    resources = rule.get("resources") or []
    names = rule.get("resourceNames") or []
    if "*" not in verbs and attributes.verb not in verbs:
        return False
    if "*" not in groups and attributes.api_group not in groups:
        return False
    sub_wildcard = f"*/{attributes.subresource}" if attributes.subresource else None
    if not any(r in ("*", attributes.combined) or (sub_wildcard and r == sub_wildcard) for r in resources):
        return False
    return not names or attributes.name in names


# ----- the authorizer -------------------------------------------------------------------------------------------------


def forbidden(subject: Subject, attributes: Attributes, reason: str = "") -> KubeError:
    """The 403 Status the apiserver answers (responsewriters.Forbidden + apierrors.NewForbidden)."""
    scope = f'in the namespace "{attributes.namespace}"' if attributes.namespace else "at the cluster scope"
    message = (
        f'User "{subject.user}" cannot {attributes.verb} resource "{attributes.combined}" '
        f'in API group "{attributes.api_group}" {scope}'
    )
    if reason:
        message = f"{message}: {reason}"
    qualified = f"{attributes.resource}.{attributes.api_group}" if attributes.api_group else attributes.resource
    prefix = f'{qualified} "{attributes.name}"' if attributes.name else qualified
    details: dict[str, str] = {}
    if attributes.name:
        details["name"] = attributes.name
    if attributes.api_group:
        details["group"] = attributes.api_group
    details["kind"] = attributes.resource
    return KubeError(403, f"{prefix} is forbidden: {message}", "Forbidden", details)


@dataclass(frozen=True)
class Decision:
    attributes: Attributes
    allowed: bool


class RbacAuthorizer:
    """Authorizes every request as `subject` under `policy` and keeps every decision for the test to inspect."""

    def __init__(self, policy: RbacPolicy, subject: Subject) -> None:
        self.policy = policy
        self.subject = subject
        self._lock = threading.Lock()
        self.decisions: list[Decision] = []

    def allows(self, attributes: Attributes) -> tuple[bool, str]:
        """(allowed, reason); the reason names missing roles, the only thing RBAC explains on a denial."""
        rules, errors = self.policy.rules_for(self.subject, attributes.namespace)
        if any(rule_allows(rule, attributes) for rule in rules):
            return True, ""
        return False, f"RBAC: {', '.join(errors)}" if errors else ""

    def __call__(self, method: str, target: Target, query: dict[str, str]) -> KubeError | None:
        attributes = request_attributes(method, target, query)
        allowed, reason = self.allows(attributes)
        with self._lock:
            self.decisions.append(Decision(attributes, allowed))
        return None if allowed else forbidden(self.subject, attributes, reason)

    @property
    def denied(self) -> list[Attributes]:
        with self._lock:
            return [d.attributes for d in self.decisions if not d.allowed]

    def granted(self) -> set[tuple[str, str, str]]:
        """(verb, group, resource[/subresource]) of every allowed request so far: what the flow really did."""
        with self._lock:
            return {
                (d.attributes.verb, d.attributes.api_group, d.attributes.combined) for d in self.decisions if d.allowed
            }

    def clear(self) -> None:
        with self._lock:
            self.decisions.clear()


def enforce(server: KubeApiServer, subject: Subject, policy: RbacPolicy | None = None) -> RbacAuthorizer:
    """Make `server` authorize every resource request as `subject` (the shipped deploy/ policy by default)."""
    authorizer = RbacAuthorizer(policy or deploy_policy(), subject)
    server.authorizer = authorizer
    return authorizer


# ----- loading the manifests -----------------------------------------------------------------------------------------


def render(target: Path = DEPLOY) -> list[dict[str, Any]]:
    """The objects `kubectl apply -k target` would create; without kubectl, the kustomization's resource files."""
    kubectl = shutil.which("kubectl") or ("/usr/bin/kubectl" if Path("/usr/bin/kubectl").exists() else None)
    if kubectl is None:
        return _resource_files(target)
    result = subprocess.run(
        [kubectl, "kustomize", str(target)], capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {target} failed: {result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _resource_files(target: Path) -> list[dict[str, Any]]:
    """The `resources:` of a kustomization, recursively (RBAC objects are not patched by deploy/'s overlays)."""
    kustomization = yaml.safe_load((target / "kustomization.yaml").read_text())
    objects: list[dict[str, Any]] = []
    for entry in kustomization.get("resources") or []:
        path = target / entry
        if path.is_dir():
            objects.extend(_resource_files(path))
        else:
            objects.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return objects


@functools.cache
def _deploy_objects() -> tuple[dict[str, Any], ...]:
    return tuple(render(DEPLOY))


def deploy_objects() -> list[dict[str, Any]]:
    """The rendered deploy/ (rendered once per test session), as fresh copies the caller may edit."""
    return copy.deepcopy(list(_deploy_objects()))


def deploy_policy() -> RbacPolicy:
    return RbacPolicy(deploy_objects())
