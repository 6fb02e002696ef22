"""Cron expressions: parsing and the next local wall-clock time that matches (pure, no zone).

`CronExpr.parse` reads 5 fields (minute hour day-of-month month day-of-week), or 6 with a leading
seconds field, with lists, ranges, steps, month and day names, and the @macros. `next_wall`
finds the first naive wall-clock time at or after a given one that matches; the zone (DST gaps
and repeated hours) is the business of `relay.schedules.timing`.
"""

from __future__ import annotations

import calendar
import re
from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime, timedelta

from relay.errors import ConfigError

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTH_NAMES = [m.lower() for m in calendar.month_abbr if m]  # jan..dec
_DAY_NAMES = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
MAX_LEN = 256


def _num(lo: int, hi: int) -> str:
    """A regex of the integers lo..hi, without leading zeros."""
    return "|".join(str(v) for v in range(hi, lo - 1, -1))


def _names(names: list[str]) -> str:
    return "|".join([*names, *(n.upper() for n in names)])


# name, lowest, highest, names (their values count from `lowest`)
_FIELDS: tuple[tuple[str, int, int, list[str]], ...] = (
    ("second", 0, 59, []),
    ("minute", 0, 59, []),
    ("hour", 0, 23, []),
    ("day of month", 1, 31, []),
    ("month", 1, 12, _MONTH_NAMES),
    ("day of week", 0, 7, _DAY_NAMES),
)


def _field_pattern(lo: int, hi: int, names: list[str]) -> str:
    value = f"(?:{_num(lo, hi)}{'|' + _names(names) if names else ''})"
    item = rf"(?:\*|{value}(?:-{value})?)(?:/(?:[1-9][0-9]{{0,2}}))?"
    return f"{item}(?:,{item})*"


_FIELD_RES = [re.compile(_field_pattern(lo, hi, names)) for _, lo, hi, names in _FIELDS]


def json_pattern() -> str:
    """The whole grammar as one (ECMA-262) regex: what the HTTP schema says a cron is."""
    fields = [f"(?:{_field_pattern(lo, hi, n)})" for _, lo, hi, n in _FIELDS]
    five = " ".join(fields[1:])
    macros = "|".join(re.escape(m) for m in MACROS)
    return f"^(?:{macros}|{fields[0]} {five}|{five})$"


SEARCH_YEARS = 28  # every day-of-month/weekday pairing recurs within 28 years


@dataclass(frozen=True, slots=True)
class CronExpr:
    """A parsed cron expression: the allowed values of each field, sorted."""

    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day-of-month is `*`
    any_weekday: bool  # day-of-week is `*`
    any_hour: bool  # hour is `*`: the schedule is an interval, it runs in a repeated hour too

    @classmethod
    def parse(cls, text: str) -> CronExpr:
        """Parse `text`; ConfigError naming the bad field."""
        if not isinstance(text, str):
            raise ConfigError(f"cron must be a string, got {text!r}")
        if len(text) > MAX_LEN:
            raise ConfigError(f"cron is longer than {MAX_LEN} characters")
        expr = MACROS.get(text, text)
        parts = expr.split(" ")
        if len(parts) == 5:
            parts = ["0", *parts]
        elif len(parts) != 6 or not all(parts):
            raise ConfigError(
                f"cron {text!r} must have 5 fields (minute hour day month weekday) separated "
                "by one space, 6 with a leading seconds field, or be one of " + ", ".join(MACROS)
            )
        sets = [_field(p, i) for i, p in enumerate(parts)]
        weekdays = frozenset(d % 7 for d in sets[5])
        sec, mins, hours, days, months = (tuple(sorted(s)) for s in sets[:5])
        self = cls(
            seconds=sec,
            minutes=mins,
            hours=hours,
            days=days,
            months=months,
            weekdays=weekdays,
            any_day=parts[3] == "*",
            any_weekday=parts[5] == "*",
            any_hour=parts[2] == "*",
        )
        if self.next_wall(datetime(2000, 1, 1)) is None:
            raise ConfigError(f"cron {text!r}: the day of month and month never meet")
        return self

    def day_matches(self, year: int, month: int, day: int) -> bool:
        """Vixie cron's rule: with both day fields restricted, either one matches."""
        dom = day in self.days
        dow = (calendar.weekday(year, month, day) + 1) % 7 in self.weekdays
        if self.any_day and self.any_weekday:
            return True
        if self.any_day:
            return dow
        if self.any_weekday:
            return dom
        return dom or dow

    def next_wall(self, start: datetime) -> datetime | None:
        """The first wall-clock time >= `start` (naive, whole seconds) that matches."""
        t = start.replace(microsecond=0) + (timedelta(seconds=1) if start.microsecond else _ZERO)
        limit = t.year + SEARCH_YEARS
        while t.year <= limit:
            if t.month not in self.months:
                t = _next_month(t, self.months)
                continue
            if not self.day_matches(t.year, t.month, t.day):
                t = datetime(t.year, t.month, t.day) + _DAY
                continue
            found = self._time_of_day(t)
            if found is not None:
                return found
            t = datetime(t.year, t.month, t.day) + _DAY
        return None

    def _time_of_day(self, t: datetime) -> datetime | None:
        """The first matching time on t's day at or after t, or None."""
        h0, m0, s0 = t.hour, t.minute, t.second
        for h in self.hours[bisect_left(self.hours, h0) :]:
            same_hour = h == h0
            for m in self.minutes[bisect_left(self.minutes, m0 if same_hour else 0) :]:
                i = bisect_left(self.seconds, s0 if same_hour and m == m0 else 0)
                if i < len(self.seconds):
                    return t.replace(hour=h, minute=m, second=self.seconds[i])
        return None


_ZERO = timedelta(0)
_DAY = timedelta(days=1)


def _at_least(values: tuple[int, ...], v: int) -> int | None:
    i = bisect_left(values, v)
    return values[i] if i < len(values) else None


def _next_month(t: datetime, months: tuple[int, ...]) -> datetime:
    m = _at_least(months, t.month + 1)
    return datetime(t.year, m, 1) if m is not None else datetime(t.year + 1, months[0], 1)


def _field(text: str, index: int) -> set[int]:
    name, lo, hi, names = _FIELDS[index]
    if not _FIELD_RES[index].fullmatch(text):
        raise ConfigError(
            f"cron {name} field: {text!r} is not a list of *, {lo}-{hi}"
            + (", names (" + ", ".join(names[:3]) + ", ...)" if names else "")
            + ", ranges a-b and steps /n"
        )
    out: set[int] = set()
    for item in text.split(","):
        out |= _item(item, lo, hi, names)
    return out


def _item(item: str, lo: int, hi: int, names: list[str]) -> set[int]:
    """One item: `*`, `v`, `a-b` (wrapping past the top: 22-2 is 22,23,0,1,2), each `/step`."""
    base, _, step_text = item.partition("/")
    step = int(step_text) if step_text else 1
    top = 6 if hi == 7 else hi  # day of week: 7 is Sunday, which is 0
    if base == "*":
        values = list(range(lo, top + 1))
    else:
        a, _, b = base.partition("-")
        first = _value(a, lo, names)
        if not b:
            last = top if step_text else first
            values = list(range(first, max(first, last) + 1))
        else:
            last = _value(b, lo, names)
            if first <= last:
                values = list(range(first, last + 1))
            else:
                values = [*range(first, hi + 1), *range(lo, last + 1)]
    return set(values[::step])


def _value(text: str, lo: int, names: list[str]) -> int:
    lower = text.lower()
    return names.index(lower) + lo if lower in names else int(text)
