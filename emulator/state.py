"""State of the fake ARM: container groups, their simulated life, throttling, quotas and faults.

Everything here is plain Python guarded by one lock, so tests may read and change it
directly while the aiohttp loop serves requests in its own thread. Time comes from a
clock object: the real wall clock by default, or `ManualClock` for tests that step
provisioning (Pending -> Creating -> Succeeded) by hand.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.clock import Clock, iso, log_stamp
from emulator.faults import Faults
from emulator.runtime import log_text, observe, restart_events
from emulator.shapes import operation_events, shape_container_view, with_generated_policy
from emulator.throttle import Throttle, ThrottleConfig
from emulator.validate import ArmError

# --------------------------------------------------------------------------- groups

SECRET_FIELDS = (("diagnostics", "logAnalytics", "workspaceKey"),)


@dataclass
class ContainerSim:
    """What happened to one container after provisioning, set by tests through `ArmServer.set_state`."""

    restart_count: int = 0
    current: dict[str, Any] | None = None
    previous: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    image_pull_failed: bool = False
    logs: str = ""
    log_stamps: list[float] = field(default_factory=list)
    """When each line of `logs` was written (for `timestamps=true`); lines set without one use the group's start."""

    @property
    def forced(self) -> bool:
        """A test set this container's state by hand: it replaces the state the program would give."""
        return self.current is not None or self.previous is not None or self.restart_count > 0


@dataclass
class Timing:
    """How long ACI takes, in clock seconds: a new group Pending, then Creating, and a delete's LRO.

    The defaults are an emulated Linux group's life (a few seconds each); tests use
    `tests.fakes.arm_fixtures.FAST` or step a `ManualClock`.
    """

    pending: float = 2.0
    creating: float = 3.0
    deleting: float = 2.0
    restart_backoff: float = 10.0
    restart_backoff_cap: float = 300.0


@dataclass
class GroupRecord:
    """One container group as ACI holds it: the accepted spec, its secrets, and its simulated life."""

    subscription: str
    resource_group: str
    name: str
    spec: dict[str, Any]
    created: float
    timing: Timing
    ip: str
    principal_id: str
    sims: dict[str, ContainerSim] = field(default_factory=dict)
    provisioning_error: dict[str, str] | None = None
    containers_run_on_failure: bool = False
    deleting_since: float | None = None
    programs: dict[str, Any] = field(default_factory=dict)  # container name -> compiled program (runtime.py)

    @property
    def ready_at(self) -> float:
        return self.created + self.timing.pending + self.timing.creating

    def phase(self, now: float) -> str:
        if now < self.created + self.timing.pending:
            return "Pending"
        if now < self.ready_at:
            return "Creating"
        if self.provisioning_error or any(sim.image_pull_failed for sim in self.sims.values()):
            return "Failed"
        return "Succeeded"

    @property
    def restart_policy(self) -> str:
        return self.spec["properties"].get("restartPolicy", "Always")

    def sim(self, container: str) -> ContainerSim:
        return self.sims.setdefault(container, ContainerSim())

    def container_names(self, *, init: bool = False) -> list[str]:
        key = "initContainers" if init else "containers"
        return [c["name"] for c in self.spec["properties"].get(key) or []]


def _strip_secrets(spec: dict[str, Any]) -> dict[str, Any]:
    """What ARM echoes back: secure env values, keys and passwords never leave the service."""
    out = copy.deepcopy(spec)
    props = out.get("properties", {})
    for key in ("containers", "initContainers"):
        for container in props.get(key) or []:
            for env in container.get("properties", {}).get("environmentVariables") or []:
                env.pop("secureValue", None)
    log_analytics = (props.get("diagnostics") or {}).get("logAnalytics")
    if isinstance(log_analytics, dict):
        log_analytics.pop("workspaceKey", None)
    for cred in props.get("imageRegistryCredentials") or []:
        cred.pop("password", None)
    for volume in props.get("volumes") or []:
        if isinstance(volume.get("azureFile"), dict):
            volume["azureFile"].pop("storageAccountKey", None)
        if isinstance(volume.get("secret"), dict):
            volume["secret"] = dict.fromkeys(volume["secret"])
    return out


def normalise_spec(body: dict[str, Any]) -> dict[str, Any]:
    """The spec as ACI stores it: numbers as floats, defaults filled as the recordings show."""
    spec = copy.deepcopy(body)
    props = spec.setdefault("properties", {})
    for container in props.get("containers") or []:
        cprops = container.setdefault("properties", {})
        cprops.setdefault("ports", [])
        cprops.setdefault("environmentVariables", [])
        requests = cprops.get("resources", {}).get("requests", {})
        for key in ("cpu", "memoryInGB"):
            if key in requests:
                requests[key] = float(requests[key])
        for key, value in list(cprops.get("resources", {}).get("limits", {}).items()):
            cprops["resources"]["limits"][key] = float(value)
    props.setdefault("initContainers", [])
    props.setdefault("restartPolicy", "Always")
    props.setdefault("sku", "Standard")
    spec.setdefault("tags", {})
    return with_generated_policy(spec)


def _event(name: str, message: str, ts: float, kind: str = "Normal") -> dict[str, Any]:
    stamp = iso(ts, digits=0)
    return {"count": 1, "firstTimestamp": stamp, "lastTimestamp": stamp, "name": name, "message": message, "type": kind}


def _start_events(image: str, at: float) -> list[dict[str, Any]]:
    return [
        _event("Pulling", f'pulling image "{image}"', at - 3),
        _event("Pulled", f'Successfully pulled image "{image}"', at - 1),
    ]


GroupKey = tuple[str, str, str]
"""(subscription, resource group lowercased, name)."""


class GroupTable(dict[GroupKey, "GroupRecord"]):
    """The groups by key, with each scope's sorted key list kept until a group is added or removed.

    ARM pages a list by name; sorting and filtering every group for every page made the emulator, not the
    connector, what a 20,000-group benchmark measured (200 pages x a 20,000-key sort).
    """

    def __init__(self) -> None:
        super().__init__()
        self._scopes: dict[tuple[str, str | None], list[GroupKey]] = {}

    def __setitem__(self, key: GroupKey, value: GroupRecord) -> None:
        if key not in self:
            self._scopes.clear()
        super().__setitem__(key, value)

    def __delitem__(self, key: GroupKey) -> None:
        super().__delitem__(key)
        self._scopes.clear()

    def pop(self, key: GroupKey, *default: Any) -> Any:  # type: ignore[override]
        self._scopes.clear()
        return super().pop(key, *default)

    def clear(self) -> None:
        self._scopes.clear()
        super().clear()

    def scope(self, subscription: str, resource_group: str | None) -> list[GroupKey]:
        """Sorted keys of one subscription (and resource group, lowercased); cached until the table changes."""
        wanted = (subscription, resource_group)
        if wanted not in self._scopes:
            self._scopes[wanted] = sorted(
                k for k in self if k[0] == subscription and (resource_group is None or k[1] == resource_group)
            )
        return self._scopes[wanted]


class ArmState:
    """All fake ARM state. Every public method takes the lock; handlers call them from the loop thread."""

    def __init__(self, clock: Clock, *, subscription: str, resource_group: str, location: str) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.location = location
        self.locations = {location}
        self.subscription = subscription
        self.resource_group = resource_group
        self.resource_groups: dict[tuple[str, str], str] = {(subscription, resource_group.lower()): resource_group}
        self.groups = GroupTable()
        self._deleting: set[GroupKey] = set()
        """Groups whose delete LRO runs (`mark_deleting`): purging looks at these, not at every group per request."""
        self.operations: dict[str, dict[str, Any]] = {}
        self.timing = Timing()
        self.throttle = Throttle(ThrottleConfig())
        self.faults = Faults()
        self.page_size = 100
        self.delete_mode = "200"  # "200" (body, as recorded), "202" (LRO), "204" (no body)
        self.emit_events = True
        self.rejected_images: set[str] = set()
        self.container_observers: list[Callable[[str, str, str], None]] = []
        """Called with (group, container, reason) when a container exits: what feeds a fake Log Analytics
        workspace's ContainerEvent table (tests/fakes/loganalytics.py), as ACI's diagnostics would."""
        self._ip_counter = 0

    # ---- helpers for tests

    def add_resource_group(self, name: str, subscription: str | None = None) -> None:
        with self.lock:
            self.resource_groups[(subscription or self.subscription, name.lower())] = name

    def find(self, name: str, resource_group: str | None = None, subscription: str | None = None) -> GroupRecord:
        key = (subscription or self.subscription, (resource_group or self.resource_group).lower(), name)
        with self.lock:
            record = self.groups.get(key)
        if record is None:
            raise KeyError(f"no container group {key}")
        return record

    def now(self) -> float:
        return self.clock.now()

    # ---- lifecycle

    def mark_deleting(self, record: GroupRecord) -> None:
        """Start a group's delete LRO: it answers Deleting until `timing.deleting` has passed, then is gone."""
        with self.lock:
            record.deleting_since = self.now()
            self._deleting.add((record.subscription, record.resource_group.lower(), record.name))

    def _purge(self, now: float) -> None:
        """Finish deletes whose LRO has run its course (only groups being deleted are looked at)."""
        for key in list(self._deleting):
            record = self.groups.get(key)
            if record is None or record.deleting_since is None:
                self._deleting.discard(key)
            elif now >= record.deleting_since + record.timing.deleting:
                del self.groups[key]
                self._deleting.discard(key)

    def live(self, subscription: str, resource_group: str | None = None) -> list[GroupRecord]:
        records, _ = self.page(subscription, resource_group, 0, None)
        return records

    def page(
        self, subscription: str, resource_group: str | None, offset: int, size: int | None
    ) -> tuple[list[GroupRecord], bool]:
        """Groups `offset` to `offset + size` in name order, and whether more follow (None: all of them)."""
        now = self.now()
        with self.lock:
            self._purge(now)
            keys = self.groups.scope(subscription, resource_group.lower() if resource_group else None)
            end = len(keys) if size is None else offset + size
            return [self.groups[k] for k in keys[offset:end]], end < len(keys)

    def get(self, subscription: str, resource_group: str, name: str) -> GroupRecord | None:
        with self.lock:
            self._purge(self.now())
            return self.groups.get((subscription, resource_group.lower(), name))

    def next_ip(self) -> str:
        with self.lock:
            self._ip_counter += 1
            return f"20.{(self._ip_counter >> 16) & 255}.{(self._ip_counter >> 8) & 255}.{self._ip_counter & 255}"

    def upsert(
        self, subscription: str, resource_group: str, name: str, body: dict[str, Any]
    ) -> tuple[GroupRecord, bool, bool]:
        """Store a validated PUT; returns (record, created, restarted): a changed spec redeploys, as in ACI."""
        now = self.now()
        spec = normalise_spec(body)
        with self.lock:
            self._purge(now)
            key = (subscription, resource_group.lower(), name)
            old = self.groups.get(key)
            if old is not None and old.deleting_since is None:
                if old.spec == spec:
                    return old, False, False
                old.spec = spec
                old.created = now
                old.sims = {}
                old.provisioning_error = None
                return old, False, True
            record = GroupRecord(
                subscription=subscription,
                resource_group=resource_group,
                name=name,
                spec=spec,
                created=now,
                timing=copy.copy(self.timing),
                ip=self.next_ip(),
                principal_id=str(uuid.uuid4()),
            )
            self.groups[key] = record
            return record, True, True

    def new_operation(self, kind: str, record: GroupRecord) -> str:
        op_id = str(uuid.uuid4())
        with self.lock:
            self.operations[op_id] = {
                "kind": kind,
                "key": (record.subscription, record.resource_group.lower(), record.name),
                "record": record,
                "start": self.now(),
                "subscription": record.subscription,
            }
        return op_id

    # ---- views

    def group_id(self, record: GroupRecord) -> str:
        return (
            f"/subscriptions/{record.subscription}/resourceGroups/{record.resource_group}"
            f"/providers/Microsoft.ContainerInstance/containerGroups/{record.name}"
        )

    def container_view(self, record: GroupRecord, name: str, image: str, *, init: bool, now: float) -> dict | None:
        """A container's instanceView at `now`, following provisioning and any state tests forced."""
        phase = record.phase(now)
        if phase == "Pending":
            return None
        sim = record.sim(name)
        failed_quietly = phase == "Failed" and record.provisioning_error and not record.containers_run_on_failure
        if phase == "Creating" or sim.image_pull_failed or failed_quietly:
            view: dict[str, Any] = {"restartCount": 0, "currentState": {"state": "Waiting", "detailStatus": ""}}
            pulling = _event("Pulling", f'pulling image "{image}"', record.created + record.timing.pending)
            events = ([pulling] if self.emit_events else []) + sim.events
            if events:
                view["events"] = events
            return view
        ready = record.ready_at
        if init:
            state = {
                "state": "Terminated",
                "startTime": iso(ready - 0.5),
                "exitCode": 0,
                "finishTime": iso(ready - 0.1),
                "detailStatus": "Completed",
            }
        elif sim.forced:
            state = sim.current or {"state": "Running", "startTime": iso(ready), "detailStatus": ""}
        else:
            observed = observe(record, name, ready, now)
            view = {"restartCount": observed.restart_count, "currentState": observed.current}
            if observed.previous:
                view["previousState"] = observed.previous
            extra = restart_events(observed, image) if self.emit_events else []
            events = (_start_events(image, ready) if self.emit_events else []) + extra + sim.events
            if events:
                view["events"] = events
            return view
        view = {"restartCount": sim.restart_count, "currentState": state}
        if sim.previous:
            view["previousState"] = sim.previous
        started = ready - 0.5 if init else ready
        events = (_start_events(image, started) if self.emit_events else []) + sim.events
        if events:
            view["events"] = events
        return view

    def container_state(self, record: GroupRecord, name: str, now: float) -> dict[str, Any] | None:
        """The currentState of a provisioned container: forced by a test, else from its program."""
        sim = record.sim(name)
        if sim.forced:
            return sim.current
        return observe(record, name, record.ready_at, now).current

    def logs(self, record: GroupRecord, name: str, *, timestamps: bool = False) -> str:
        """The current run's output (what ACI's logs API returns), or what a test set."""
        sim = record.sim(name)
        now = self.now()
        if sim.logs or sim.forced or record.phase(now) in ("Pending", "Creating"):
            lines = sim.logs.splitlines(keepends=True)
            if timestamps:
                stamps = sim.log_stamps + [record.ready_at] * (len(lines) - len(sim.log_stamps))
                lines = [f"{log_stamp(stamp)} {line}" for stamp, line in zip(stamps, lines, strict=False)]
            return "".join(lines)
        if name in record.container_names(init=True):
            observed = observe(record, name, record.ready_at - 0.5, record.ready_at - 0.1, policy="Never")
        else:
            observed = observe(record, name, record.ready_at, now)
        return log_text(observed.logs, timestamps=timestamps)

    def group_state(self, record: GroupRecord, now: float) -> str:
        phase = record.phase(now)
        if phase in ("Pending", "Creating"):
            return "Pending"
        if phase == "Failed" and not record.containers_run_on_failure:
            return "Pending" if any(s.image_pull_failed for s in record.sims.values()) else "Failed"
        states = [self.container_state(record, n, now) for n in record.container_names()]
        if any(s is None or s["state"] in ("Running", "Waiting") for s in states):
            return "Running"
        if all(s.get("exitCode") == 0 for s in states if s):
            return "Succeeded"
        return "Failed"

    def render(self, record: GroupRecord, *, instance_view: bool, accepted: bool = False) -> dict[str, Any]:
        """The ARM JSON of a group: GET with instanceView, list without, PUT echo in between."""
        now = self.now()
        with self.lock:
            spec = _strip_secrets(record.spec)
            phase = "Pending" if accepted else record.phase(now)
            props = spec["properties"]
            ordered: dict[str, Any] = {"sku": props.pop("sku", "Standard")}
            if "encryptionProperties" in props:
                ordered["encryptionProperties"] = props.pop("encryptionProperties")
            ordered["provisioningState"] = phase
            ordered["provisioningTimeoutInSeconds"] = 1800
            ordered["isCustomProvisioningTimeout"] = False
            for key in ("containers", "initContainers"):
                ordered[key] = props.pop(key)
                for container in ordered[key]:
                    cprops = container["properties"]
                    if not instance_view or accepted:
                        continue
                    view = self.container_view(
                        record, container["name"], cprops["image"], init=key == "initContainers", now=now
                    )
                    if view is not None:
                        view = shape_container_view(record.spec, view, init=key == "initContainers")
                        container["properties"] = _insert_after(cprops, "environmentVariables", "instanceView", view)
            ordered["restartPolicy"] = props.pop("restartPolicy")
            ip = props.pop("ipAddress", None)
            if ip is not None:
                ordered["ipAddress"] = self._render_ip(record, ip, ready=phase in ("Succeeded", "Failed"))
            ordered["osType"] = props.pop("osType")
            if "volumes" in props:
                ordered["volumes"] = props.pop("volumes")
            if instance_view:
                events = []
                ordered["instanceView"] = {
                    "events": events,
                    "state": "Pending" if accepted else self.group_state(record, now),
                }
            ordered.update(props)
            out: dict[str, Any] = {"properties": ordered}
            if "identity" in spec:
                out["identity"] = self._render_identity(record, spec["identity"])
            out["id"] = self.group_id(record)
            out["name"] = record.name
            out["type"] = "Microsoft.ContainerInstance/containerGroups"
            out["location"] = spec.get("location", self.location)
            for key, value in spec.items():
                if key not in ("properties", "identity", "location", "name", "id", "type"):
                    out[key] = value
            return out

    def _render_ip(self, record: GroupRecord, ip: dict[str, Any], *, ready: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ports": [{"protocol": p.get("protocol", "TCP"), "port": p["port"]} for p in ip["ports"]]
        }
        if ready:
            out["ip"] = record.ip if ip.get("type") == "Public" else f"10.0.{record.ip.rsplit('.', 1)[-1]}.4"
        out["type"] = ip["type"]
        if ip.get("dnsNameLabel"):
            out["dnsNameLabel"] = ip["dnsNameLabel"]
            out["autoGeneratedDomainNameLabelScope"] = ip.get("autoGeneratedDomainNameLabelScope", "Unsecure")
            location = record.spec.get("location", self.location).replace(" ", "").lower()
            out["fqdn"] = f"{ip['dnsNameLabel']}.{location}.azurecontainer.io"
        for key, value in ip.items():
            out.setdefault(key, value)
        return out

    def _render_identity(self, record: GroupRecord, identity: dict[str, Any]) -> dict[str, Any]:
        out = dict(identity)
        if "SystemAssigned" in str(identity.get("type", "")):
            out = {"principalId": record.principal_id, "tenantId": "00000000-0000-0000-0000-000000000000", **out}
        return out

    def operation_body(self, op_id: str) -> dict[str, Any] | None:
        """The Azure-AsyncOperation status body: `{id, status, startTime, properties.events}` (+ error)."""
        now = self.now()
        with self.lock:
            op = self.operations.get(op_id)
            if op is None:
                return None
            record: GroupRecord = op["record"]
            body: dict[str, Any] = {
                "id": self.group_id(record),
                "status": "Pending",
                "startTime": iso(op["start"], digits=7),
                "properties": {"events": []},
            }
            if op["kind"] == "delete":
                done = now >= op["start"] + record.timing.deleting
                body["status"] = "Succeeded" if done else "Pending"
                if done:
                    self._purge(now)
                return body
            phase = record.phase(now)
            if phase in ("Succeeded", "Failed"):
                body["status"] = phase
                if self.emit_events and phase == "Succeeded":
                    for container in record.spec["properties"]["containers"]:
                        pulls = _start_events(container["properties"]["image"], record.ready_at)
                        body["properties"]["events"] += operation_events(record.spec, pulls)
                if phase == "Failed":
                    body["error"] = dict(
                        record.provisioning_error
                        or {"code": "ContainerGroupDeploymentFailed", "message": "Failed to pull image."}
                    )
            return body

    def usages(self, subscription: str, location: str) -> list[dict[str, Any]]:
        groups = [r for r in self.live(subscription) if _norm(r.spec.get("location", "")) == _norm(location)]
        spot = [r for r in groups if r.spec["properties"].get("priority") == "Spot"]
        regular = [r for r in groups if r.spec["properties"].get("priority") != "Spot"]
        from emulator.validate import group_cores  # local: keeps the import graph one-way

        config = self.throttle.config

        def usage(name: str, localized: str, current: int, limit: int) -> dict[str, Any]:
            return {
                "unit": "Count",
                "currentValue": current,
                "limit": limit,
                "name": {"value": name, "localizedValue": localized},
            }

        return [
            usage("ContainerGroups", "Container Groups", len(groups), config.container_groups_quota),
            usage(
                "StandardCores",
                "Standard Cores",
                sum(group_cores(r.spec) for r in regular),
                config.standard_cores_quota,
            ),
            usage(
                "StandardSpotCores",
                "Standard Spot Cores",
                sum(group_cores(r.spec) for r in spot),
                config.standard_cores_quota,
            ),
        ]

    def check_quota(self, subscription: str, body: dict[str, Any], existing: GroupRecord | None) -> None:
        """ACI's regional quotas: group count and cores; a breach answers 400 ContainerGroupQuotaReached."""
        from emulator.validate import group_cores

        location = body.get("location", self.location)
        used = {u["name"]["value"]: u for u in self.usages(subscription, location)}
        wanted = {"ContainerGroups": 0 if existing else 1}
        cores_key = "StandardSpotCores" if body["properties"].get("priority") == "Spot" else "StandardCores"
        wanted[cores_key] = group_cores(body) - (group_cores(existing.spec) if existing else 0)
        for name, requested in wanted.items():
            usage = used[name]
            if requested > 0 and usage["currentValue"] + requested > usage["limit"]:
                raise ArmError(
                    400,
                    "ContainerGroupQuotaReached",
                    f"Resource type 'Microsoft.ContainerInstance/containerGroups' container group quota '{name}' "
                    f"exceeded in region '{_norm(location)}'. Limit: '{usage['limit']}', Usage: "
                    f"'{usage['currentValue']}' Requested: '{requested}'.",
                )


def _norm(location: str) -> str:
    return location.replace(" ", "").lower()


def _insert_after(props: dict[str, Any], after: str, key: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    placed = False
    for k, v in props.items():
        out[k] = v
        if k == after:
            out[key] = value
            placed = True
    if not placed:
        out[key] = value
    return out
