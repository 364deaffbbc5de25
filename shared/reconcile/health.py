"""Is ACI reachable? The answer becomes the virtual nodes' Ready condition.

A node whose runtime is down must say so: the kubelet reports Ready False when
its container runtime stops answering, and so does the connector when ARM has
refused or failed the reconciler's list for a while. One blip is not enough (ARM
has transient 5xx); NotReady needs `unready_after_cycles` failed cycles in a row
spanning at least `unready_after_seconds`. The first success clears it.

Throttling (429) is not a failure: ARM answered, it only asked us to wait.

State is per process. A singleton timer that moves to a fresh instance while ARM
is down restarts the count, which delays NotReady by at most the same thresholds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from shared.errors import ConfigError
from shared.node import READY, Readiness

UNREACHABLE = "AciUnreachable"
AUTH_FAILED = "AciAuthenticationFailed"


def _is_auth_failure(error: BaseException) -> bool:
    status = getattr(error, "status", None)
    return isinstance(error, ConfigError) or status in (401, 403)


@dataclass
class AciHealth:
    unready_after_cycles: int = 3
    unready_after_seconds: float = 30.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    failing_since: float | None = None
    last_error: str = ""
    auth_failure: bool = False

    def success(self) -> None:
        self.failures = 0
        self.failing_since = None
        self.last_error = ""
        self.auth_failure = False

    def failure(self, error: BaseException) -> None:
        self.failures += 1
        if self.failing_since is None:
            self.failing_since = self.clock()
        self.last_error = f"{type(error).__name__}: {error}"[:500]
        self.auth_failure = _is_auth_failure(error)

    @property
    def unhealthy(self) -> bool:
        if self.failing_since is None:
            return False
        long_enough = self.clock() - self.failing_since >= self.unready_after_seconds
        return self.failures >= self.unready_after_cycles and long_enough

    def readiness(self) -> Readiness:
        if not self.unhealthy:
            return READY
        seconds = int(self.clock() - (self.failing_since or self.clock()))
        if self.auth_failure:
            return Readiness(
                False,
                AUTH_FAILED,
                f"ARM refused the connector's credentials for {seconds} s ({self.failures} cycles): {self.last_error}",
            )
        return Readiness(
            False,
            UNREACHABLE,
            f"Azure Container Instances unreachable for {seconds} s ({self.failures} cycles): {self.last_error}",
        )
