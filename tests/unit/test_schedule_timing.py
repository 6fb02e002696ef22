"""Next-fire arithmetic: matches the expression, monotonic, DST edges of several zones.

The oracle is a brute-force walk over real instants (minute by minute, or second by second for
6-field expressions) that applies DESIGN.md's rule to each instant on its own: an instant fires
when its wall-clock time matches (a repeated wall time only on its first pass unless the hour is
`*`), or when it ends a DST gap that swallowed a matching wall time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relay import ConfigError
from relay.schedules.cron import CronExpr
from relay.schedules.timing import CronTiming, EveryTiming

ZONES = [
    "Europe/Paris",
    "America/New_York",
    "Australia/Lord_Howe",  # half-hour DST
    "America/Sao_Paulo",
    "Pacific/Chatham",  # +12:45 / +13:45
    "Asia/Kolkata",  # no DST
    "UTC",
]
# DST transitions of 2026 (and a no-DST day), as local dates to search around.
EDGES = [
    "2026-03-08",
    "2026-03-29",
    "2026-04-05",
    "2026-09-27",
    "2026-10-04",
    "2026-10-25",
    "2026-11-01",
    "2026-06-15",
]


def _fires(c: CronTiming, u: int) -> bool:
    """The rule, per instant (seconds)."""
    tz = c.tz
    local = datetime.fromtimestamp(u, tz)
    wall = local.replace(tzinfo=None)
    off = local.utcoffset() or timedelta(0)
    prev = datetime.fromtimestamp(u - 1, tz).utcoffset() or timedelta(0)
    if prev < off:  # u ends a gap: fires if any skipped wall time (or u's own) matches
        first = c.expr.next_wall(wall - (off - prev))
        return first is not None and first <= wall
    if c.expr.next_wall(wall) != wall:
        return False
    if local.fold == 1 and not c.expr.any_hour:
        twin = wall.replace(tzinfo=tz, fold=0)
        return datetime.fromtimestamp(twin.timestamp(), tz).replace(tzinfo=None) != wall
    return True


def _oracle(c: CronTiming, after_ms: int, step: int, horizon: int) -> int | None:
    u = after_ms // 1000 + 1
    u += (-u) % step
    end = u + horizon
    while u <= end:
        if _fires(c, u):
            return u * 1000
        u += step
    return None


minute = st.sampled_from(["*", "0", "30", "*/15", "0,45", "10-20/5", "59"])
hour = st.sampled_from(["*", "0", "1", "2", "3", "1-3", "*/2", "2,3", "23"])
weekday = st.sampled_from(["*", "*", "mon-fri", "sun", "6"])


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    day=st.sampled_from(EDGES),
    offset_s=st.integers(-30 * 3600, 30 * 3600),
    m=minute,
    h=hour,
    dow=weekday,
)
def test_next_fire_matches_the_brute_force_rule(
    zone: str, day: str, offset_s: int, m: str, h: str, dow: str
) -> None:
    c = CronTiming.of(f"{m} {h} * * {dow}", zone)
    start = datetime.fromisoformat(day).replace(hour=12, tzinfo=ZoneInfo(zone)).timestamp()
    after = int(start + offset_s) * 1000 + 437
    expected = _oracle(c, after, 60, 9 * 86_400)
    if expected is not None:
        assert c.next_after(after) == expected


@settings(max_examples=60, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    day=st.sampled_from(EDGES),
    offset_s=st.integers(-14 * 3600, 14 * 3600),
    sec=st.sampled_from(["*/20", "0", "15,45"]),
    m=st.sampled_from(["*", "*/30", "0"]),
)
def test_six_field_expressions_match_second_by_second(
    zone: str, day: str, offset_s: int, sec: str, m: str
) -> None:
    c = CronTiming.of(f"{sec} {m} * * * *", zone)
    start = datetime.fromisoformat(day).replace(hour=2, tzinfo=ZoneInfo(zone)).timestamp()
    after = int(start + offset_s) * 1000
    expected = _oracle(c, after, 1, 2 * 3600)
    if expected is not None:
        assert c.next_after(after) == expected


@settings(max_examples=100, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    day=st.sampled_from(EDGES),
    m=minute,
    h=hour,
    steps=st.integers(2, 40),
)
def test_ticks_strictly_increase_and_each_matches(
    zone: str, day: str, m: str, h: str, steps: int
) -> None:
    c = CronTiming.of(f"{m} {h} * * *", zone)
    t = int(datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(zone)).timestamp()) * 1000
    for _ in range(steps):
        nxt = c.next_after(t)
        assert nxt > t and nxt % 1000 == 0
        assert _fires(c, nxt // 1000)
        t = nxt


def _local(zone: str, ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M%z")


def _ticks(cron: str, zone: str, start: str, n: int) -> list[str]:
    c = CronTiming.of(cron, zone)
    t = int(datetime.fromisoformat(start).replace(tzinfo=ZoneInfo(zone)).timestamp() * 1000)
    out = []
    for _ in range(n):
        t = c.next_after(t)
        out.append(_local(zone, t))
    return out


def test_a_skipped_time_fires_once_at_the_first_valid_time_after_it() -> None:
    assert _ticks("30 2 * * *", "Europe/Paris", "2026-03-28 12:00", 2) == [
        "2026-03-29 03:00+0200",
        "2026-03-30 02:30+0200",
    ]
    assert _ticks("0 2 * * *", "Australia/Lord_Howe", "2026-10-03 12:00", 2) == [
        "2026-10-04 02:30+1100",
        "2026-10-05 02:00+1100",
    ]
    # every minute of the skipped hour: one tick for the whole gap
    assert _ticks("* 2 * * *", "America/New_York", "2026-03-08 01:58", 3) == [
        "2026-03-08 03:00-0400",
        "2026-03-09 02:00-0400",
        "2026-03-09 02:01-0400",
    ]


def test_a_repeated_time_fires_once_but_an_hourly_interval_runs_through() -> None:
    assert _ticks("30 1 * * *", "America/New_York", "2026-10-31 12:00", 2) == [
        "2026-11-01 01:30-0400",
        "2026-11-02 01:30-0500",
    ]
    assert _ticks("*/30 * * * *", "America/New_York", "2026-11-01 00:50", 5) == [
        "2026-11-01 01:00-0400",
        "2026-11-01 01:30-0400",
        "2026-11-01 01:00-0500",
        "2026-11-01 01:30-0500",
        "2026-11-01 02:00-0500",
    ]


def test_names_macros_and_day_rules() -> None:
    assert _ticks("0 9 * jan,jul mon", "UTC", "2026-12-06 00:00", 2) == [
        "2027-01-04 09:00+0000",
        "2027-01-11 09:00+0000",
    ]
    assert _ticks("@monthly", "UTC", "2026-12-06 00:00", 1) == ["2027-01-01 00:00+0000"]
    assert _ticks("@weekly", "UTC", "2026-12-06 00:00", 1) == ["2026-12-13 00:00+0000"]
    # day of month and weekday both restricted: either matches (Vixie cron)
    assert _ticks("0 0 13 * fri", "UTC", "2026-12-06 00:00", 3) == [
        "2026-12-11 00:00+0000",
        "2026-12-13 00:00+0000",
        "2026-12-18 00:00+0000",
    ]
    assert _ticks("0 0 29 2 *", "UTC", "2026-12-06 00:00", 1) == ["2028-02-29 00:00+0000"]
    assert CronExpr.parse("0 0 * * 7").weekdays == CronExpr.parse("0 0 * * 0").weekdays


@pytest.mark.parametrize(
    ("cron", "field"),
    [
        ("60 * * * *", "minute"),
        ("* 24 * * *", "hour"),
        ("* * 0 * *", "day of month"),
        ("* * * 13 *", "month"),
        ("* * * * 8", "day of week"),
        ("* * * * funday", "day of week"),
        ("*/0 * * * *", "minute"),
        ("61 * * * * *", "second"),
        ("0 0 31 2 *", "never meet"),
        ("@often", "5 fields"),
    ],
)
def test_bad_expressions_name_the_field(cron: str, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        CronExpr.parse(cron)


@pytest.mark.parametrize("zone", ["Mars/Base", "", "../etc/passwd", "/etc/localtime"])
def test_bad_zones_name_the_field(zone: str) -> None:
    with pytest.raises(ConfigError, match="timezone"):
        CronTiming.of("* * * * *", zone)


@given(every=st.integers(100, 86_400_000), after=st.integers(0, 2**45))
def test_every_ms_ticks_are_epoch_aligned_and_next(every: int, after: int) -> None:
    nxt = EveryTiming(every).next_after(after)
    assert nxt % every == 0 and after < nxt <= after + every
