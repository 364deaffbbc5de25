"""The watch relay: a long-running process turning pod changes on the virtual nodes into `pod-events` messages.

`python -m shared.relay` runs it (see docs/relay.md). Modules, in data-flow order:
changes (pure: which watch event deserves a message), watcher (list + watch per
node), coalesce (burst de-duplication), sender (bounded buffer + retries to
Storage), health (/healthz /readyz /metrics), lease (optional Lease renewal),
app (wiring and clean shutdown).
"""

from shared.relay.app import Relay, RelayConfig

__all__ = ["Relay", "RelayConfig"]
