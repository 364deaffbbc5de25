"""The timer trigger: NCRONTAB (six fields, seconds first; five are accepted too) or a TimeSpan, in UTC.

Fires at each occurrence of the schedule, never twice at once: a run still going when
the next occurrence comes makes that occurrence wait (the host's singleton behaviour).
`runOnStartup` fires once at start. The function gets the worker's own TimerRequest.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from shared.localhost.index import NotServable

log = logging.getLogger("localhost")
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$")


class Schedule:
    """When a timer fires next after a moment."""

    def __init__(self, expression: str, *, where: str = "schedule") -> None:
        self.expression = expression.strip()
        span = _TIMESPAN.match(self.expression)
        self.interval: timedelta | None = None
        if span:
            days, hours, minutes, seconds = (int(part or 0) for part in span.groups())
            self.interval = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
            if self.interval <= timedelta(0):
                raise NotServable(f"{where}: TimeSpan {expression!r} must be longer than zero")
            return
        from croniter import croniter

        fields = self.expression.split()
        if len(fields) not in (5, 6):
            raise NotServable(
                f"{where}: {expression!r} is neither an NCRONTAB expression "
                "({second} {minute} {hour} {day} {month} {day-of-week}) nor a TimeSpan hh:mm:ss"
            )
        self._seconds_first = len(fields) == 6
        if not croniter.is_valid(self.expression, second_at_beginning=self._seconds_first):
            raise NotServable(f"{where}: {expression!r} is not a valid NCRONTAB expression")

    def next_after(self, moment: datetime) -> datetime:
        if self.interval is not None:
            return moment + self.interval
        from croniter import croniter

        return croniter(self.expression, moment, second_at_beginning=self._seconds_first).get_next(datetime)


def timer_request(*, past_due: bool, last: datetime | None, next_: datetime) -> object:
    """The TimerRequest the Python worker would build from the host's JSON."""
    from azure.functions import meta
    from azure.functions.timer import TimerRequestConverter

    status = {"Last": (last or datetime.min.replace(tzinfo=UTC)).isoformat(), "Next": next_.isoformat()}
    body = json.dumps({"IsPastDue": past_due, "ScheduleStatus": status, "Schedule": {"AdjustForDST": True}})
    return TimerRequestConverter.decode(meta.Datum(body, "json"), trigger_metadata=None)


def run_timer(
    schedule: Schedule,
    fire: Callable[[object], None],
    stop: threading.Event,
    *,
    run_on_startup: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """Fire on schedule until `stop` is set (one thread per timer function)."""
    last: datetime | None = None
    if run_on_startup:
        fire(timer_request(past_due=False, last=None, next_=schedule.next_after(now())))
        last = now()
    due = schedule.next_after(now())
    while not stop.is_set():
        wait = (due - now()).total_seconds()
        if wait > 0 and stop.wait(min(wait, 1.0)):
            return
        if now() < due:
            continue
        late = now() - due
        following = schedule.next_after(now())
        fire(timer_request(past_due=late > timedelta(seconds=1), last=last, next_=following))
        last, due = due, following
