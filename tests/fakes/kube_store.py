"""The fake apiserver's storage: objects, one global resourceVersion, bounded per-resource watch history.

All state sits behind one lock so tests may seed or inspect it from any thread while the HTTP server
serves from its own loop. Watch events are handed to watchers under the same lock, so every watcher sees
writes in resourceVersion order, and a watch started at RV n gets exactly the events after n.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import random
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tests.fakes import kube_objects, kube_patch, kube_schema, kube_validate
from tests.fakes.kube_errors import (
    Cause,
    KubeError,
    already_exists,
    bad_request,
    conflict,
    expired,
    invalid,
    not_found,
    stale,
    too_large,
    too_old,
)
from tests.fakes.kube_query import decode_continue, encode_continue, parse_resource_version
from tests.fakes.kube_resources import RESOURCES, ResourceType, resolve

Predicate = Callable[[dict[str, Any]], bool]
Deliver = Callable[[tuple[str, dict[str, Any]]], None]
NAMESPACES = resolve("namespaces")
PODS = resolve("pods")
INITIAL_NAMESPACES = ("default", "kube-system", "kube-node-lease", "kube-public")
UNDELETABLE_NAMESPACES = ("default", "kube-system", "kube-public")
CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of the "
    "results. Continuing with the provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may show up in the list."
)
SYSTEM_META = ("uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds")
NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


def now_rfc3339(offset_seconds: float = 0) -> str:
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset_seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Event:
    """One stored change; `old` is the previous state so selector transitions and snapshots can be derived."""

    type: str
    rv: int
    key: str
    obj: dict[str, Any]
    old: dict[str, Any] | None


@dataclass
class Watcher:
    namespace: str | None
    predicate: Predicate
    deliver: Deliver


def object_key(rt: ResourceType, namespace: str | None, name: str) -> str:
    return f"{namespace}/{name}" if rt.namespaced else name


def _rv_of(obj: dict[str, Any]) -> str | None:
    return (obj.get("metadata") or {}).get("resourceVersion")


def _set_rv(obj: dict[str, Any], rv: int) -> dict[str, Any]:
    obj["metadata"]["resourceVersion"] = str(rv)
    return obj


def translate(event: Event, watcher: Watcher) -> tuple[str, dict[str, Any]] | None:
    """The event a selective watcher sees: ADDED/DELETED when an object starts/stops matching."""

    def passes(obj: dict[str, Any] | None) -> bool:
        if obj is None:
            return False
        if watcher.namespace is not None and obj["metadata"].get("namespace") != watcher.namespace:
            return False
        return watcher.predicate(obj)

    new_ok = passes(event.obj)
    old_ok = passes(event.old)
    if event.type == "ADDED":
        return ("ADDED", event.obj) if new_ok else None
    if event.type == "DELETED":
        return ("DELETED", event.obj) if new_ok else None
    if new_ok:
        return ("MODIFIED" if old_ok else "ADDED", event.obj)
    if old_ok and event.old is not None:
        return "DELETED", _set_rv(copy.deepcopy(event.old), event.rv)
    return None


class KubeStore:
    """Thread-safe object store with apiserver write semantics."""

    def __init__(self, history_limit: int = 1000) -> None:
        self.history_limit = history_limit
        self._lock = threading.RLock()
        self._rv = 0
        self._objects: dict[str, dict[str, dict[str, Any]]] = {rt.plural: {} for rt in RESOURCES}
        self._history: dict[str, deque[Event]] = {rt.plural: deque() for rt in RESOURCES}
        self._compacted: dict[str, int] = {rt.plural: 0 for rt in RESOURCES}
        self._watchers: dict[str, list[Watcher]] = {rt.plural: [] for rt in RESOURCES}
        self._dry = False
        for name in INITIAL_NAMESPACES:
            self.create(NAMESPACES, None, {"metadata": {"name": name}})

    # ----- bookkeeping -------------------------------------------------------------------------------------------
    @property
    def resource_version(self) -> int:
        with self._lock:
            return self._rv

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    @contextlib.contextmanager
    def dry_run(self) -> Iterator[None]:
        """Run writes in full (defaulting, admission, validation, conflicts) and then forget them, as dryRun=All
        does: the store, its resourceVersion, history and watchers are as they were. Writes replace stored
        objects rather than change them in place, so copying each resource's dict is enough to undo them."""
        with self._lock:
            saved_rv, saved = self._rv, {plural: dict(objects) for plural, objects in self._objects.items()}
            self._dry = True
            try:
                yield
            finally:
                self._dry = False
                self._rv, self._objects = saved_rv, saved

    def _emit(self, rt: ResourceType, kind: str, key: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if self._dry:
            return
        event = Event(kind, int(obj["metadata"]["resourceVersion"]), key, copy.deepcopy(obj), old)
        history = self._history[rt.plural]
        history.append(event)
        while len(history) > self.history_limit:
            self._compacted[rt.plural] = history.popleft().rv
        for watcher in list(self._watchers[rt.plural]):
            seen = translate(event, watcher)
            if seen is not None:
                watcher.deliver(seen)

    def _require(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self._objects[rt.plural].get(object_key(rt, namespace, name))
        if obj is None:
            raise not_found(rt, name)
        return obj

    @staticmethod
    def _prune(rt: ResourceType, obj: dict[str, Any], field_validation: str | None) -> list[str]:
        unknown = kube_schema.prune(obj, kube_schema.definitions().get(rt.definition))
        if unknown and field_validation == "Strict":
            fields = ", ".join(f'unknown field "{path}"' for path in unknown)
            raise bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: strict decoding error: {fields}'
            )
        if field_validation == "Ignore":
            return []
        return [f'unknown field "{path}"' for path in unknown]

    @staticmethod
    def _typed(rt: ResourceType, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request(f"the object provided is unrecognized (must be of type {rt.kind})")
        obj = copy.deepcopy(body)
        if obj.get("kind") not in (None, "", rt.kind):
            raise bad_request(f'the object provided is unrecognized (must be of type {rt.kind}): kind "{obj["kind"]}"')
        if obj.get("apiVersion") not in (None, "", rt.api_version):
            raise bad_request(
                f"the API version in the data ({obj['apiVersion']}) does not match "
                f"the expected API version ({rt.api_version})"
            )
        obj.pop("kind", None)
        obj.pop("apiVersion", None)
        obj = {"kind": rt.kind, "apiVersion": rt.api_version, **obj}
        if not isinstance(obj.get("metadata"), dict):
            obj["metadata"] = {}
        return obj

    # ----- reads -------------------------------------------------------------------------------------------------
    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._require(rt, namespace, name))

    def find(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any] | None:
        with self._lock:
            obj = self._objects[rt.plural].get(object_key(rt, namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def _snapshot(self, rt: ResourceType, rv: int) -> dict[str, dict[str, Any]]:
        """The resource's objects as they were at `rv`, rebuilt by undoing newer history."""
        objects = dict(self._objects[rt.plural])
        for event in reversed(self._history[rt.plural]):
            if event.rv <= rv:
                break
            if event.type == "ADDED":
                objects.pop(event.key, None)
            elif event.old is not None:
                objects[event.key] = event.old
        return objects

    def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        predicate: Predicate,
        *,
        limit: int | None = None,
        continue_token: str | None = None,
        resource_version: str | None = None,
        resource_version_match: str | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            exact = resource_version_match == "Exact" or bool(
                limit and limit > 0 and resource_version not in (None, "", "0")
            )
            objects, list_rv, start = self._list_source(rt, continue_token, resource_version, exact=exact)
            keys = sorted(k for k in objects if not start or k > start)
            chosen = [
                objects[k]
                for k in keys
                if (namespace is None or objects[k]["metadata"].get("namespace") == namespace) and predicate(objects[k])
            ]
            meta: dict[str, Any] = {"resourceVersion": str(list_rv)}
            if limit and limit > 0 and len(chosen) > limit:
                last = chosen[limit - 1]
                meta["continue"] = encode_continue(
                    list_rv, object_key(rt, last["metadata"].get("namespace"), last["metadata"]["name"])
                )
                meta["remainingItemCount"] = len(chosen) - limit
                chosen = chosen[:limit]
            return {
                "kind": f"{rt.kind}List",
                "apiVersion": rt.api_version,
                "metadata": meta,
                "items": copy.deepcopy(chosen),
            }

    def _list_source(
        self, rt: ResourceType, token: str | None, rv: str | None, *, exact: bool
    ) -> tuple[dict[str, dict[str, Any]], int, str]:
        """What a list reads: a continue token's snapshot; the exact revision asked for (resourceVersionMatch=Exact,
        or any resourceVersion but 0 with a limit, which etcd serves at that revision, as the real server does);
        else the current state, once it is at least the resourceVersion asked for."""
        compacted = self._compacted[rt.plural]
        if token:
            snap_rv, start = decode_continue(token)
            if rv and rv != "0":
                raise bad_request("specifying resource version is not allowed when using continue")
            if snap_rv < compacted:
                raise expired(CONTINUE_EXPIRED)
            return self._snapshot(rt, snap_rv), snap_rv, start.rstrip("\x00")
        if rv and exact:
            wanted = parse_resource_version(rv)
            if wanted < compacted:
                raise too_old(wanted, compacted)
            if wanted > self._rv:  # etcd's own error, passed through unwrapped
                raise KubeError(500, "etcdserver: mvcc: required revision is a future revision", reason="")
            return self._snapshot(rt, wanted), wanted, ""
        if rv and rv != "0" and parse_resource_version(rv) > self._rv:
            raise too_large(parse_resource_version(rv), self._rv)
        return self._objects[rt.plural], self._rv, ""

    # ----- watch -------------------------------------------------------------------------------------------------
    def watch(
        self,
        rt: ResourceType,
        namespace: str | None,
        predicate: Predicate,
        resource_version: str | None,
        deliver: Deliver,
        *,
        initial_events: bool | None = None,
    ) -> Callable[[], None]:
        """Replay what the watcher missed (or synthetic ADDED for current state) and subscribe, atomically.

        `initial_events` is WatchList's sendInitialEvents: True replays the current state whatever the version
        and ends it with a BOOKMARK annotated `k8s.io/initial-events-end`; False starts from now (or the version)."""
        watcher = Watcher(namespace, predicate, deliver)
        with self._lock:
            if initial_events is False and resource_version in (None, "", "0"):
                resource_version = str(self._rv)
            if initial_events or resource_version in (None, "", "0"):
                for key in sorted(self._objects[rt.plural]):
                    obj = self._objects[rt.plural][key]
                    seen = translate(Event("ADDED", self._rv, key, obj, None), watcher)
                    if seen is not None:
                        deliver((seen[0], copy.deepcopy(seen[1])))
            else:
                since = parse_resource_version(resource_version)
                compacted = self._compacted[rt.plural]
                if since < compacted:
                    raise too_old(since, compacted)
                for event in self._history[rt.plural]:
                    seen = translate(event, watcher) if event.rv > since else None
                    if seen is not None:
                        deliver(seen)
            if initial_events:
                self.bookmark(rt, deliver, {"k8s.io/initial-events-end": "true"})
            self._watchers[rt.plural].append(watcher)

        def cancel() -> None:
            with self._lock:
                if watcher in self._watchers[rt.plural]:
                    self._watchers[rt.plural].remove(watcher)

        return cancel

    def bookmark(self, rt: ResourceType, deliver: Deliver, annotations: dict[str, str] | None = None) -> None:
        """Queue a BOOKMARK behind every event already delivered, so its RV never runs ahead of them."""
        with self._lock:
            meta: dict[str, Any] = {"resourceVersion": str(self._rv)}
            if annotations:
                meta["annotations"] = dict(annotations)
            deliver(("BOOKMARK", {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}))

    def drop_watchers(self) -> None:
        with self._lock:
            for watchers in self._watchers.values():
                watchers.clear()

    def load(self, rt: ResourceType, objects: list[dict[str, Any]]) -> None:
        """Bulk-load finished objects, as an apiserver finds them in etcd when it starts (benchmarks seed 20,000
        pods this way, not by 40,000 writes): each keeps its metadata and gets its own resourceVersion, no watch
        event is sent, and the history is compacted up to here (a watch from an older version gets 410)."""
        with self._lock:
            for obj in objects:
                meta = obj["metadata"]
                _set_rv(obj, self._next_rv())
                self._objects[rt.plural][object_key(rt, meta.get("namespace"), meta["name"])] = obj
            self._history[rt.plural].clear()
            self._compacted[rt.plural] = self._rv

    # ----- writes ------------------------------------------------------------------------------------------------
    def create(
        self, rt: ResourceType, namespace: str | None, body: Any, field_validation: str | None = None
    ) -> tuple[dict[str, Any], list[str]]:
        with self._lock:
            obj = self._typed(rt, body)
            warnings = self._prune(rt, obj, field_validation)
            meta = obj["metadata"]
            if rt.namespaced:
                namespace = namespace or meta.get("namespace") or "default"
                if meta.get("namespace") not in (None, "", namespace):
                    raise bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request"
                    )
                meta["namespace"] = namespace
                if namespace not in self._objects["namespaces"]:
                    raise not_found(NAMESPACES, namespace)
            else:
                meta.pop("namespace", None)
            name = meta.get("name") or ""
            if not name and meta.get("generateName"):
                name = meta["generateName"] + "".join(random.choice(NAME_CHARS) for _ in range(5))
            kube_validate.decode_check(rt, obj)
            kube_objects.apply_defaults(rt, obj)
            kube_objects.admit_create(rt, obj)
            causes = kube_objects.validate_name(rt, name) + kube_objects.validate(rt, obj)
            if causes:
                raise invalid(rt, name, causes)
            key = object_key(rt, meta.get("namespace"), name)
            if key in self._objects[rt.plural]:
                raise already_exists(rt, name)
            if meta.get("resourceVersion"):  # the etcd3 store's refusal, a 500 with no reason (as 1.20 answers)
                raise KubeError(500, "resourceVersion should not be set on objects to be created")
            for field in (*SYSTEM_META, "resourceVersion", "selfLink", "managedFields"):
                meta.pop(field, None)
            meta["name"] = name
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_rfc3339()
            kube_objects.prepare_create(rt, obj)
            _set_rv(obj, self._next_rv())
            self._objects[rt.plural][key] = obj
            self._emit(rt, "ADDED", key, obj, None)
            return copy.deepcopy(obj), warnings

    def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        subresource: str | None = None,
        field_validation: str | None = None,
    ) -> tuple[dict[str, Any], list[str]]:
        with self._lock:
            current = self._require(rt, namespace, name)
            new = self._typed(rt, body)
            warnings = self._prune(rt, new, field_validation)
            kube_validate.decode_check(rt, new)
            self._check_identity(rt, namespace, name, new)
            return self._write(rt, current, new, subresource), warnings

    def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        content_type: str,
        body: Any,
        *,
        subresource: str | None = None,
        field_validation: str | None = None,
    ) -> tuple[dict[str, Any], list[str]]:
        with self._lock:
            current = self._require(rt, namespace, name)
            merged = kube_patch.apply_patch(content_type, current, body, rt.definition)
            new = self._typed(rt, merged)
            warnings = self._prune(rt, new, field_validation)
            kube_validate.decode_check(rt, new)
            self._check_identity(rt, namespace, name, new)
            return self._write(rt, current, new, subresource), warnings

    @staticmethod
    def _check_identity(rt: ResourceType, namespace: str | None, name: str, new: dict[str, Any]) -> None:
        meta = new["metadata"]
        if meta.get("name") != name:
            raise bad_request(
                f"the name of the object ({meta.get('name', '')}) does not match the name on the URL ({name})"
            )
        if rt.namespaced and meta.get("namespace") not in (None, "", namespace):
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")

    def _write(
        self, rt: ResourceType, current: dict[str, Any], new: dict[str, Any], subresource: str | None
    ) -> dict[str, Any]:
        """Shared tail of PUT and PATCH: precondition, status/spec split, validation, no-op skip, commit."""
        name = current["metadata"]["name"]
        wanted_rv = new["metadata"].get("resourceVersion")
        if wanted_rv and wanted_rv != _rv_of(current):
            raise stale(rt, name)
        wanted_uid, current_uid = new["metadata"].get("uid"), current["metadata"].get("uid")
        if wanted_uid and wanted_uid != current_uid:  # the registry treats a uid in the body as a precondition
            raise conflict(
                rt, name, f"Precondition failed: UID in precondition: {wanted_uid}, UID in object meta: {current_uid}"
            )
        status_write = subresource == "status"
        result = self._status_write(rt, current, new) if status_write else self._main_write(rt, current, new)
        return self._commit(rt, current, result)

    @staticmethod
    def _status_write(rt: ResourceType, current: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        """Status writes keep spec, deletion state and owners (labels/annotations may change, as upstream),
        then pass the kind's status-update validation (pods: ValidatePodStatusUpdate, nodes: ValidateNodeUpdate)."""
        result = copy.deepcopy(current)
        result["status"] = new.get("status") or {}
        for field in ("labels", "annotations"):
            if field in new["metadata"]:
                result["metadata"][field] = new["metadata"][field]
            else:
                result["metadata"].pop(field, None)
        if rt.plural == "pods":
            kube_validate.normalize_pod_status(current, result)
            causes = kube_validate.validate_metadata(result) + kube_validate.validate_pod_status_update(current, result)
        elif rt.plural == "nodes":
            causes = kube_objects.validate(rt, result, current)
        else:
            causes = kube_validate.validate_metadata(result)
        if causes:
            raise invalid(rt, result["metadata"]["name"], causes)
        return result

    def _main_write(self, rt: ResourceType, current: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        result = new
        meta = result["metadata"]
        for field in (*SYSTEM_META, "namespace", "name"):
            if field in current["metadata"]:
                meta[field] = current["metadata"][field]
            else:
                meta.pop(field, None)
        meta.pop("selfLink", None)
        if rt.has_status:
            result["status"] = copy.deepcopy(current.get("status"))
            if result["status"] is None:
                result.pop("status")
        kube_objects.apply_defaults(rt, result)
        causes: list[Cause] = kube_objects.validate(rt, result, current)
        if rt.plural == "pods":
            causes += kube_objects.validate_pod_update(current, result)
        if current["metadata"].get("deletionTimestamp"):
            added = set(meta.get("finalizers") or []) - set(current["metadata"].get("finalizers") or [])
            if added:
                causes.append(
                    Cause(
                        "metadata.finalizers",
                        "Forbidden",
                        "no new finalizers can be added if the object is being deleted",
                    )
                )
        if causes:
            raise invalid(rt, meta["name"], causes)
        return result

    def _commit(
        self, rt: ResourceType, current: dict[str, Any], result: dict[str, Any], *, bump_generation: bool = True
    ) -> dict[str, Any]:
        """Store a changed object under a new RV and emit MODIFIED; an unchanged one is returned as is."""
        result["metadata"]["resourceVersion"] = _rv_of(current)
        if result == current:
            return copy.deepcopy(current)
        meta = result["metadata"]
        if bump_generation and rt.plural == "pods" and result.get("spec") != current.get("spec"):
            meta["generation"] = int(meta.get("generation") or 1) + 1
        key = object_key(rt, meta.get("namespace"), meta["name"])
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and meta.get("deletionGracePeriodSeconds") == 0:
            return self._remove(rt, key, current)
        _set_rv(result, self._next_rv())
        self._objects[rt.plural][key] = result
        self._emit(rt, "MODIFIED", key, result, current)
        return copy.deepcopy(result)

    def _remove(self, rt: ResourceType, key: str, current: dict[str, Any]) -> dict[str, Any]:
        gone = _set_rv(copy.deepcopy(current), self._next_rv())
        del self._objects[rt.plural][key]
        self._emit(rt, "DELETED", key, gone, current)
        return gone

    # ----- delete ------------------------------------------------------------------------------------------------
    def delete(
        self, rt: ResourceType, namespace: str | None, name: str, options: dict[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Delete per DeleteOptions. Returns (body, removed): the pod (or Status) and whether it is gone."""
        with self._lock:
            current = self._require(rt, namespace, name)
            self._check_preconditions(rt, current, options)
            if rt.plural == "namespaces":
                return self._delete_namespace(name, current), True
            grace = options.get("gracePeriodSeconds")
            if rt.plural == "pods":
                return self._delete_pod(current, grace)
            key = object_key(rt, namespace, name)
            if current["metadata"].get("finalizers"):
                return self._mark_deleting(rt, current, 0), False
            gone = self._remove(rt, key, current)
            return self._success(rt, gone), True

    @staticmethod
    def _check_preconditions(rt: ResourceType, current: dict[str, Any], options: dict[str, Any]) -> None:
        meta = current["metadata"]
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != meta["uid"]:
            why = f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {meta['uid']}"
            raise conflict(rt, meta["name"], why)
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
            why = (
                f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, "
                f"ResourceVersion in object meta: {meta['resourceVersion']}"
            )
            raise conflict(rt, meta["name"], why)

    @staticmethod
    def _success(rt: ResourceType, gone: dict[str, Any]) -> dict[str, Any]:
        details = rt.details(gone["metadata"]["name"])
        details["uid"] = gone["metadata"]["uid"]
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    def _mark_deleting(self, rt: ResourceType, current: dict[str, Any], grace: int) -> dict[str, Any]:
        result = copy.deepcopy(current)
        meta = result["metadata"]
        meta["deletionTimestamp"] = now_rfc3339(grace)
        meta["deletionGracePeriodSeconds"] = grace
        return self._commit(rt, current, result)

    def _delete_pod(self, current: dict[str, Any], grace: Any) -> tuple[dict[str, Any], bool]:
        """Bound, running pods are deleted gracefully and wait for the node's grace-0 delete; the rest at once."""
        spec, meta = current.get("spec") or {}, current["metadata"]
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", 30)
        grace = int(grace)
        grace = 1 if grace < 0 else grace
        if not spec.get("nodeName") or (current.get("status") or {}).get("phase") in kube_objects.TERMINAL_PHASES:
            grace = 0
        key = object_key(PODS, meta["namespace"], meta["name"])
        if grace > 0:
            existing = meta.get("deletionGracePeriodSeconds")
            if meta.get("deletionTimestamp") and existing is not None and existing <= grace:
                return copy.deepcopy(current), False
            return self._mark_deleting(PODS, current, grace), False
        if meta.get("finalizers"):
            return self._mark_deleting(PODS, current, 0), False
        # Every pod goes through the graceful path, even at grace 0 (unscheduled, terminal, forced): the real
        # server writes deletionTimestamp + deletionGracePeriodSeconds 0 (a MODIFIED) and then removes the pod.
        marked = copy.deepcopy(current)
        marked["metadata"]["deletionTimestamp"] = now_rfc3339(0)
        marked["metadata"]["deletionGracePeriodSeconds"] = 0
        _set_rv(marked, self._next_rv())
        self._objects[PODS.plural][key] = marked
        self._emit(PODS, "MODIFIED", key, marked, current)
        return self._remove(PODS, key, marked), True

    def _delete_namespace(self, name: str, current: dict[str, Any]) -> dict[str, Any]:
        if name in UNDELETABLE_NAMESPACES:
            raise KubeError(
                403,
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                "Forbidden",
                NAMESPACES.details(name),
            )
        for rt in RESOURCES:
            if rt.namespaced:
                for key, obj in list(self._objects[rt.plural].items()):
                    if obj["metadata"]["namespace"] == name:
                        self._remove(rt, key, obj)
        gone = self._remove(NAMESPACES, name, current)
        gone["metadata"]["deletionTimestamp"] = now_rfc3339()
        gone["status"] = {"phase": "Terminating"}
        return gone

    def delete_collection(
        self, rt: ResourceType, namespace: str | None, predicate: Predicate, options: dict[str, Any]
    ) -> dict[str, Any]:
        with self._lock:
            listed = self.list(rt, namespace, predicate)
            for item in listed["items"]:
                meta = item["metadata"]
                self.delete(
                    rt, meta.get("namespace"), meta["name"], {k: v for k, v in options.items() if k != "preconditions"}
                )
            return {
                "kind": f"{rt.kind}List",
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(self._rv)},
                "items": listed["items"],
            }

    # ----- pods/binding ------------------------------------------------------------------------------------------
    def bind(self, namespace: str, name: str, binding: Any) -> dict[str, Any]:
        """pods/binding: set spec.nodeName once and mark PodScheduled, as the scheduler's bind does."""
        with self._lock:
            current = self._require(PODS, namespace, name)
            if not isinstance(binding, dict):
                raise bad_request("the object provided is unrecognized (must be of type Binding)")
            bound_name = (binding.get("metadata") or {}).get("name")
            if bound_name and bound_name != name:
                raise bad_request(f"the name of the object ({bound_name}) does not match the name on the URL ({name})")
            target = (binding.get("target") or {}).get("name")
            if not target:
                binding_rt = ResourceType("bindings", "binding", "Binding", "", "v1", True, "")
                raise invalid(binding_rt, name, [Cause("target.name", "Required value")])
            node = (current.get("spec") or {}).get("nodeName")
            if node:
                raise conflict(PODS, name, f'pod {name} is already assigned to node "{node}"', "pods/binding")
            if current["metadata"].get("deletionTimestamp"):
                raise conflict(PODS, name, f"pod {name} is being deleted, cannot be assigned to a host", "pods/binding")
            result = copy.deepcopy(current)
            result["spec"]["nodeName"] = target
            status = result.setdefault("status", {})
            conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
            conditions.append(
                {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now_rfc3339()}
            )
            status["conditions"] = conditions
            self._commit(PODS, current, result, bump_generation=False)  # binding is not a spec update
            return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
