"""The change feed as the reconcile cycle uses it: named groups stay hot until read; the watermark moves after.

`shared.azure.changefeed` answers which groups had container events. Here those
names become the cycle's hot reads, and stay hot across cycles until a GET has
read each one (the budget may defer some). A name the cycle has nothing to read
for (not one of our groups, a pod being deleted or finished) is settled at once.
An answer's watermark is committed only when every group it named was settled,
in the order the answers came, so a restart in between asks again and nothing
is skipped. Any failure of the feed leaves the budgeted sweep to do the work.

The watermark is kept as an annotation on the first virtual Node (the connector
owns that object and reads it every cycle anyway), so it survives the timer
moving to another instance.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from shared.azure.changefeed import ContainerEventFeed, FeedAnswer, logs_client
from shared.kube import MERGE_PATCH

log = logging.getLogger("aci_connector.reconcile.feed")

WATERMARK_ANNOTATION = "aci-connector.io/change-feed-watermark"


class NodeWatermark:
    """The feed's watermark in an annotation of a virtual Node (one merge patch when it moves)."""

    def __init__(self, kube: Any, node: str) -> None:
        self.kube = kube
        self.node = node

    def load(self) -> datetime | None:
        node = self.kube.request("GET", f"/api/v1/nodes/{quote(self.node, safe='')}")
        text = ((node.get("metadata") or {}).get("annotations") or {}).get(WATERMARK_ANNOTATION)
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None

    def save(self, watermark: datetime) -> None:
        patch = {"metadata": {"annotations": {WATERMARK_ANNOTATION: watermark.isoformat()}}}
        self.kube.request("PATCH", f"/api/v1/nodes/{quote(self.node, safe='')}", body=patch, content_type=MERGE_PATCH)


@dataclass
class _Outstanding:
    answer: FeedAnswer
    unread: set[str]


@dataclass
class FeedDriver:
    feed: ContainerEventFeed
    outstanding: deque[_Outstanding] = field(default_factory=deque)
    taken: dict[str, datetime] = field(default_factory=dict)
    """Latest event per group already turned into a hot read (committed or not): not hot twice for one event."""

    def hot(self, errors: list[str]) -> set[str]:
        """This cycle's hot names: every unread name of every answer so far, plus the new answer's."""
        try:
            answer = self.feed.changed()
        except Exception as error:  # the sweep is the safety net: count it, never fail the cycle
            errors.append(f"change feed: {type(error).__name__}: {str(error)[:300]}")
        else:
            new = {g for g in answer.groups if g not in self.taken or answer.seen[g] > self.taken[g]}
            self.taken.update({g: answer.seen[g] for g in new})
            self.outstanding.append(_Outstanding(answer, new))
        return set().union(*(entry.unread for entry in self.outstanding)) if self.outstanding else set()

    def settle(self, names: Iterable[str]) -> None:
        """These names need no (more) reading: read this cycle, or nothing of ours to read."""
        done = set(names)
        for entry in self.outstanding:
            entry.unread -= done

    def end_cycle(self, readable: set[str]) -> None:
        """Names not readable this cycle (not ours, deleting, finished) are settled; commit what is complete."""
        for entry in self.outstanding:
            entry.unread &= readable
        while self.outstanding and not self.outstanding[0].unread:
            self.feed.commit(self.outstanding.popleft().answer)
        if not self.outstanding and self.feed.watermark is not None:
            self.taken = {g: at for g, at in self.taken.items() if g in self.feed.handled}


def feed_from_settings(settings: Any, kube: Any) -> FeedDriver | None:
    """The change feed when CHANGE_FEED_WORKSPACE_ID names a workspace; None leaves the sweep alone."""
    workspace = settings["CHANGE_FEED_WORKSPACE_ID"]
    if not workspace or kube is None:
        return None
    node = next(iter(settings.node_names.values()))
    client = logs_client(settings["CHANGE_FEED_ENDPOINT"])
    return FeedDriver(ContainerEventFeed(workspace, client, NodeWatermark(kube, node)))
