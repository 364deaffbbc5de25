"""Pod and container securityContext -> ACI security context, refusing what ACI cannot enforce."""

from __future__ import annotations

from typing import Any

from shared.translate.common import Context, reject

_POD_SECURITY_WARNED = {
    "fsGroup": "ACI does not change volume ownership",
    "fsGroupChangePolicy": "ACI does not change volume ownership",
    "supplementalGroups": "ACI cannot add supplementary groups",
    "supplementalGroupsPolicy": "ACI cannot add supplementary groups",
}


def _pod_security_context(ctx: Context) -> None:
    context = ctx.spec.get("securityContext") or {}
    path = "spec.securityContext"
    if context.get("sysctls"):
        reject(f"{path}.sysctls", "ACI does not let pods set kernel parameters")
    for name, reason in _POD_SECURITY_WARNED.items():
        if context.get(name) not in (None, []):
            ctx.warn(f"{path}.{name}", f"ignored: {reason}")
    _check_hardening(ctx, context, path)


def _check_hardening(ctx: Context, context: dict[str, Any], path: str) -> None:
    """Hardening the pod asks for that ACI cannot apply is refused rather than silently weakened."""
    if context.get("seLinuxOptions"):
        ctx.unenforceable(f"{path}.seLinuxOptions", "ACI does not apply SELinux labels")
    for key, label in (("seccompProfile", "seccomp"), ("appArmorProfile", "AppArmor")):
        kind = (context.get(key) or {}).get("type")
        if kind == "Localhost":
            ctx.unenforceable(f"{path}.{key}", f"ACI applies its default {label} profile only, not a node's own")
        elif kind not in (None, "RuntimeDefault"):
            # Unconfined asks for less confinement than ACI's default: the workload could break, not just weaken.
            reject(f"{path}.{key}", f"ACI applies its default {label} profile only (asked: {kind})")
    windows = context.get("windowsOptions") or {}
    if windows.get("hostProcess"):
        reject(f"{path}.windowsOptions.hostProcess", "there is no host on ACI to run a host process on")
    for key in ("gmsaCredentialSpec", "gmsaCredentialSpecName", "runAsUserName"):
        if windows.get(key):
            ctx.warn(f"{path}.windowsOptions.{key}", "ignored: ACI Windows containers run as the image's user")


def _security_context(ctx: Context, container: dict[str, Any], path: str) -> dict[str, Any] | None:
    """ACI securityContext: the container's fields over the pod's (runAsUser/runAsGroup), as Kubernetes does."""
    pod_context = ctx.spec.get("securityContext") or {}
    context = container.get("securityContext") or {}
    sc_path = f"{path}.securityContext"
    _check_hardening(ctx, context, sc_path)
    if context.get("privileged"):
        reject(f"{sc_path}.privileged", "ACI does not run privileged containers")
    if context.get("readOnlyRootFilesystem"):
        ctx.unenforceable(f"{sc_path}.readOnlyRootFilesystem", "ACI cannot make the root filesystem read-only")
    if context.get("procMount") not in (None, "Default"):
        reject(f"{sc_path}.procMount", "ACI uses the default /proc mount only")
    out: dict[str, Any] = {}
    for key in ("runAsUser", "runAsGroup"):
        value = context.get(key, pod_context.get(key))
        if value is not None:
            out[key] = value
    if "allowPrivilegeEscalation" in context:
        out["allowPrivilegeEscalation"] = bool(context["allowPrivilegeEscalation"])
    capabilities = context.get("capabilities") or {}
    caps = {key: list(capabilities[key]) for key in ("add", "drop") if capabilities.get(key)}
    if caps:
        out["capabilities"] = caps
    non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
    if non_root and out.get("runAsUser") == 0:
        reject(f"{sc_path}.runAsNonRoot", "runAsNonRoot with runAsUser 0 can never start")
    if non_root and "runAsUser" not in out:
        where = sc_path if "runAsNonRoot" in context else "spec.securityContext"
        ctx.warn(f"{where}.runAsNonRoot", "not verified: ACI cannot check the image's user; set runAsUser")
    if out and ctx.windows:
        reject(sc_path, "ACI Windows containers take no security context")
    return out or None
