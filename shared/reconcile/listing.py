"""The reconciler's view of its container groups: one list spread over cycles, inside the read budget and the schedule.

ARM lists container groups a page at a time, following nextLink one page after
another, and a page costs a read like a GET. At 5,000 groups a full list is 50
pages: the whole per-cycle budget of the default ARM_READS_PER_MINUTE, and 10 s
at ARM's usual 200 ms per page, the whole schedule. So:

- every page is taken from the read budget before it is fetched;
- a cycle fetches pages only until its listing share of that cycle's budget
  (`budget_share`) or of the schedule (`time_share`) is spent, and the next cycle
  resumes from the saved nextLink; a list is as fresh as the pages it took;
- until a list completes, the cycle works from the last complete one, corrected
  by its own GETs (a GET returns the group; None says it is gone);
- only a cycle that completed a list may judge what is *absent* from it (an
  orphan to delete, a group gone missing): those decisions need all pages.

With a small fleet a list is one or two pages and completes every cycle, as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shared import tags
from shared.errors import ConnectorError, ThrottledError

DEFAULT_BUDGET_SHARE = 0.5
"""At most this fraction of a cycle's reads goes to list pages; GETs (status freshness) keep the rest."""
DEFAULT_TIME_SHARE = 0.4
"""At most this fraction of the schedule is spent fetching pages (the rest: GETs, patches, node upkeep)."""


@dataclass
class ListOutcome:
    """What this cycle knows of the groups: the view, and whether a list completed this very cycle."""

    groups: list[dict[str, Any]] | None
    """None until a first list has completed (nothing may be decided from an empty view)."""
    fresh: bool
    pages: int
    error: str | None = None
    throttled: bool = False
    retry_after: float | None = None


@dataclass
class GroupLister:
    """Holds the last complete list and the one in progress; one per Reconciler (the timer is a singleton)."""

    list_page: Callable[[str | None], tuple[list[dict[str, Any]], str | None]]
    take_read: Callable[[], bool]
    reads_this_cycle: Callable[[], int]
    interval: float
    budget_share: float = DEFAULT_BUDGET_SHARE
    time_share: float = DEFAULT_TIME_SHARE
    clock: Callable[[], float] = time.monotonic
    view: dict[str, dict[str, Any]] | None = None
    _partial: dict[str, dict[str, Any]] = field(default_factory=dict)
    _next: str | None = None
    _in_progress: bool = False
    full_lists: int = 0

    def cycle(self, deadline: float | None = None, reserve: int = 0) -> ListOutcome:
        """Fetch this cycle's share of pages (none started after `deadline`, if given); return the view to use.

        `reserve` reads of this cycle are kept for GETs that must happen (groups the change feed or Event Grid
        named): pages get what is left of their share, but at least one, so a list always moves on.
        """
        left = self.reads_this_cycle()
        page_cap = max(1, min(int(left * self.budget_share), left - reserve))
        own = self.clock() + self.interval * self.time_share
        deadline = own if deadline is None else min(own, deadline)
        pages = 0
        fresh = False
        while pages < page_cap and (pages == 0 or self.clock() < deadline):
            if not self.take_read():
                break
            try:
                items, next_link = self.list_page(self._next if self._in_progress else None)
            except ThrottledError as error:
                return ListOutcome(self._groups(), False, pages + 1, str(error), True, error.retry_after)
            except ConnectorError as error:
                self._restart()  # a continuation link may have expired: start over next cycle
                return ListOutcome(self._groups(), False, pages + 1, str(error))
            pages += 1
            if not self._in_progress:
                self._partial, self._in_progress = {}, True
            self._partial.update((g["name"], g) for g in items if g.get("name") and tags.is_managed(g))
            self._next = next_link
            if next_link is None:
                self.view, fresh = self._partial, True
                self.full_lists += 1
                self._restart()
                break
        return ListOutcome(self._groups(), fresh, pages)

    def _restart(self) -> None:
        self._partial, self._next, self._in_progress = {}, None, False

    def _groups(self) -> list[dict[str, Any]] | None:
        return None if self.view is None else list(self.view.values())

    def saw(self, name: str, group: dict[str, Any] | None) -> None:
        """A GET's answer is newer than any list: keep the view in step (None: the group is gone)."""
        if self.view is None:
            return
        if group is None:
            self.view.pop(name, None)
        elif tags.is_managed(group):
            self.view[name] = as_listed(group)


def as_listed(group: dict[str, Any]) -> dict[str, Any]:
    """A GET's answer as a list page shows it, without the instanceViews (state and events) that only a GET
    carries: nothing reads them from the view, and at 20,000 groups they would be most of its memory."""
    properties = dict(group.get("properties") or {})
    properties.pop("instanceView", None)
    for key in ("containers", "initContainers"):
        if isinstance(properties.get(key), list):
            properties[key] = [_without_instance_view(container) for container in properties[key]]
    return {**group, "properties": properties}


def _without_instance_view(container: Any) -> Any:
    if not isinstance(container, dict) or "instanceView" not in (container.get("properties") or {}):
        return container
    inner = {k: v for k, v in container["properties"].items() if k != "instanceView"}
    return {**container, "properties": inner}
