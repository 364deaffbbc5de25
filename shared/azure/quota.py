"""The capacity adapter: ARM usage reads and pod listings behind short caches, assembled into the report.

Why caches: `GET /api/capacity` is the kind of endpoint dashboards poll every few seconds from
many tabs. ARM reads are a shared budget (25/s per principal, also spent by the worker and the
reconciler), so the quota is read at most once per CAPACITY_QUOTA_CACHE_SECONDS (>= 60 s) per
process, whatever the traffic, and one in-flight read is shared by concurrent callers (no
stampede). Pod listings hit the API server, so they are reused for CAPACITY_PODS_CACHE_SECONDS.

A failed ARM read is an attempt too: the previous reading is served, marked stale, with the
error, and the next attempt waits for the next window. Honest and cheap beats fresh and costly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from shared.azure.reads import CAPACITY, reading_as
from shared.capacity import AciQuota, Resources, capacity_report, parse_usages, sum_requests
from shared.config import Settings

log = logging.getLogger("aci_connector.capacity")

_T = TypeVar("_T")

TERMINAL_FIELD_SELECTOR = "status.phase!=Succeeded,status.phase!=Failed"
"""What `kubectl describe node` lists too: terminal pods hold nothing, so the server need not send them."""


@dataclass(frozen=True)
class Reading(Generic[_T]):
    """One cached value, when it was fetched, and the last error if the latest attempt failed."""

    value: _T | None
    fetched_at: float | None
    """time.time() of the successful fetch behind `value`."""
    error: str | None = None

    def status(self, now: float) -> dict[str, Any]:
        return {
            "fetchedAt": _iso(self.fetched_at) if self.fetched_at is not None else None,
            "ageSeconds": round(now - self.fetched_at, 3) if self.fetched_at is not None else None,
            "stale": self.error is not None,
            "error": self.error,
        }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TtlCache(Generic[_T]):
    """A value fetched at most once per `ttl` seconds, successful or not; concurrent callers share one fetch.

    While a refresh runs, callers that already have a value get it at once rather than queue
    behind a slow ARM; only the very first callers wait.
    """

    def __init__(
        self,
        fetch: Callable[[], _T],
        ttl: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._fetch = fetch
        self.ttl = ttl
        self._monotonic = monotonic
        self._wall = wall
        self._reading: Reading[_T] = Reading(None, None)
        self._attempted_at: float | None = None
        self._refreshing = False
        self._lock = threading.Lock()
        self.fetches = 0

    def _due(self) -> bool:
        return self._attempted_at is None or self._monotonic() - self._attempted_at >= self.ttl

    def get(self) -> Reading[_T]:
        if not self._due() and not self._refreshing:
            return self._reading
        have_value = self._reading.fetched_at is not None
        if not self._lock.acquire(blocking=not have_value):
            return self._reading  # someone else is refreshing: serve what we have
        try:
            if self._due():
                self._refresh()
            return self._reading
        finally:
            self._lock.release()

    def _refresh(self) -> None:
        self._attempted_at = self._monotonic()
        self._refreshing = True
        self.fetches += 1
        try:
            self._reading = Reading(self._fetch(), self._wall())
        except Exception as error:  # any failure: keep serving the last good value, say why it is stale
            log.warning("capacity cache refresh failed: %s", error)
            self._reading = Reading(self._reading.value, self._reading.fetched_at, f"{type(error).__name__}: {error}")
        finally:
            self._refreshing = False

    def invalidate(self) -> None:
        with self._lock:
            self._attempted_at = None


class CapacityService:
    """Everything GET /api/capacity needs, built once per process and reused by every invocation."""

    def __init__(
        self,
        settings: Settings,
        *,
        aci: Callable[[], Any],
        kube: Callable[[], Any] | None,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._aci = aci
        self._kube = kube
        self._wall = wall
        self.quota_cache: TtlCache[AciQuota] = TtlCache(
            self._read_quota, settings["CAPACITY_QUOTA_CACHE_SECONDS"], monotonic=monotonic, wall=wall
        )
        self.pod_caches: dict[str, TtlCache[Resources]] = {
            node: TtlCache(
                lambda node=node: self._read_requests(node),
                settings["CAPACITY_PODS_CACHE_SECONDS"],
                monotonic=monotonic,
                wall=wall,
            )
            for node in settings.node_names.values()
        }

    def _read_quota(self) -> AciQuota:
        """Drawn from the process's ARM read budget as the capacity endpoint's: never waits; when no read is
        left (or ARM's counter is low) the refresh fails and the last reading is served, marked stale."""
        with reading_as(CAPACITY):
            return parse_usages(self._aci().usages(), self.settings["ACI_REGION"])

    def _read_requests(self, node: str) -> Resources:
        assert self._kube is not None
        pods, _ = self._kube().list_pods(field_selector=f"spec.nodeName={node},{TERMINAL_FIELD_SELECTOR}")
        return sum_requests(pods)

    def report(self, node: str | None = None) -> dict[str, Any]:
        """The capacity report, for every virtual node or one (KeyError when `node` is not ours)."""
        names = self.settings.node_names.values()
        if node is not None and node not in names:
            raise KeyError(node)
        now = self._wall()
        quota = self.quota_cache.get()
        requested: dict[str, Resources | None] = {}
        pods_status: dict[str, Any] = {}
        for name in names:
            if self._kube is None:
                requested[name] = None
                continue
            reading = self.pod_caches[name].get()
            requested[name] = reading.value
            pods_status[name] = reading.status(now)
        report = capacity_report(
            self.settings, requested=requested, quota=quota.value, quota_status=quota.status(now), only_node=node
        )
        for entry in report["nodes"]:
            entry["podsSource"] = "kubernetes" if self._kube is not None else "none"
            if entry["name"] in pods_status:
                entry["podsListing"] = pods_status[entry["name"]]
        return report


_service: CapacityService | None = None
_service_lock = threading.Lock()


def get_capacity_service(settings: Settings | None = None) -> CapacityService:
    """The process-wide service; its caches are what keep ARM and the API server unbothered."""
    global _service  # noqa: PLW0603 - one cache per worker process is the point
    with _service_lock:
        if _service is None:
            from shared.azure.aci import get_aci_client
            from shared.config import get_settings

            settings = settings or get_settings()
            kube = None
            if settings.cluster_configured:
                from shared.kube import get_kube_client

                kube = lambda: get_kube_client(settings)  # noqa: E731 - built on first listing, not here
            _service = CapacityService(settings, aci=lambda: get_aci_client(settings), kube=kube)
        return _service


def set_capacity_service(service: CapacityService | None) -> None:
    """Install a service (tests: one on the fakes) or forget the current one."""
    global _service  # noqa: PLW0603
    with _service_lock:
        _service = service
