"""Jittered exponential backoff for reconnects and send retries.

"Equal jitter" (half the exponential step, plus a random part of the other half) keeps
several relays, or several sender threads, from retrying in lockstep against an apiserver
or Storage account that is just coming back, while never retrying sooner than half the
step: full jitter (anywhere in [0, step]) would sometimes hot-loop against a server that
is down.
"""

from __future__ import annotations

import random


class Backoff:
    """Delays initial, 2*initial, ... capped at `maximum`, each jittered to [50 %, 100 %]."""

    def __init__(self, initial: float = 0.2, maximum: float = 30.0, factor: float = 2.0) -> None:
        if initial <= 0 or maximum < initial or factor < 1:
            raise ValueError("backoff needs 0 < initial <= maximum and factor >= 1")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.failures = 0

    def next_delay(self) -> float:
        step = min(self.maximum, self.initial * self.factor**self.failures)
        self.failures += 1
        return step * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.failures = 0
