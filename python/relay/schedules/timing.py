"""When a schedule fires: the next tick strictly after an instant, in a zone, DST included.

Pure functions of (expression, zone, instant): every worker computes the same tick, whatever its
own clock says, because the instant it passes in comes from Redis TIME.

DST, as DESIGN.md asks:
- a wall-clock time the zone skips (02:30 on a spring-forward night) fires once, at the first
  valid instant after it (the transition, 03:00 local); several skipped times fire once in all;
- a wall-clock time the zone repeats (01:30 on a fall-back night) fires once, on its first
  pass, unless the hour field is `*`: such a schedule is an interval in real time (every 15
  minutes) and keeps firing through the repeated hour too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from relay.errors import ConfigError
from relay.schedules.cron import CronExpr

MAX_EVERY_MS = 366 * 86_400_000


@cache
def zone_names() -> frozenset[str]:
    """Every IANA zone this machine knows (the system's tz database, or the tzdata package)."""
    return frozenset(available_timezones()) - {"localtime", "posixrules"}  # machine-specific


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; ConfigError naming the field when unknown."""
    if not isinstance(name, str) or name not in zone_names():
        raise ConfigError(f"timezone {name!r} is not a known IANA zone name (e.g. Europe/Paris)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ConfigError(f"timezone {name!r} could not be loaded: {exc}") from exc


@dataclass(frozen=True, slots=True)
class EveryTiming:
    """Ticks at whole multiples of `every_ms` since the Unix epoch (so every worker agrees)."""

    every_ms: int

    def __post_init__(self) -> None:
        v = self.every_ms
        if isinstance(v, bool) or not isinstance(v, int) or not 100 <= v <= MAX_EVERY_MS:
            raise ConfigError(f"every_ms must be an integer from 100 to {MAX_EVERY_MS}, got {v!r}")

    def next_after(self, after_ms: int) -> int:
        return (after_ms // self.every_ms + 1) * self.every_ms


@dataclass(frozen=True, slots=True)
class CronTiming:
    """Ticks where a cron expression matches the wall clock of a zone."""

    expr: CronExpr
    tz: ZoneInfo

    @classmethod
    def of(cls, cron: str, timezone: str = "UTC") -> CronTiming:
        """The timing of `cron` in `timezone` (parsed once per pair: each tick plans again)."""
        return _cron_timing(cron, timezone)

    def next_after(self, after_ms: int) -> int:
        """The first tick (unix ms, whole seconds) strictly after `after_ms`."""
        return self._next_int(after_ms // 1000 + 1) * 1000  # from the first whole second after

    def _next_from(self, t: int) -> int | tuple[int]:
        """The first tick >= t, or (t2,): look again from t2 (a transition was crossed)."""
        local = datetime.fromtimestamp(t, self.tz)
        wall = local.replace(tzinfo=None)
        if local.fold == 0 and self._ambiguous(wall) and self.expr.any_hour:
            return self._in_first_pass(t, wall)
        cand = self.expr.next_wall(wall)
        if cand is None:
            raise ConfigError("cron: the expression never matches again")
        off = local.utcoffset() or timedelta(0)
        first = _ts(cand - off)
        if (
            _offset(self.tz, first) == off
            and _offset(self.tz, t) == off
            and not self._crosses(t, first, off)
        ):
            if local.fold == 1 and self._ambiguous(cand) and not self.expr.any_hour:
                return (self._pass_end(cand),)  # its first pass fired already
            return first
        return self._across(t, first, off)

    def _across(self, t: int, first: int, off: timedelta) -> int | tuple[int]:
        """A transition lies between t and the naive next tick: stop there and look again."""
        tr = _transition(self.tz, t, max(first, t + 1), off)
        after = _offset(self.tz, tr)
        if after > off:  # a gap: wall times [tr+off, tr+after) do not exist
            skipped = self.expr.next_wall(_wall(tr, off))
            if skipped is not None and skipped < _wall(tr, after):
                return tr
        return (tr,)

    def _crosses(self, t: int, first: int, off: timedelta) -> bool:
        """Whether the offset changes anywhere in (t, first] (probed a week apart)."""
        week = 7 * 86_400
        probe = t + week
        while probe < first:
            if _offset(self.tz, probe) != off:
                return True
            probe += week
        return False

    def _ambiguous(self, wall: datetime) -> bool:
        a = _ts_local(wall, self.tz, 0)
        b = _ts_local(wall, self.tz, 1)
        return a != b and _roundtrips(wall, self.tz, a) and _roundtrips(wall, self.tz, b)

    def _pass_end(self, wall: datetime) -> int:
        """The instant the second pass through a repeated hour ends."""
        a, b = _ts_local(wall, self.tz, 0), _ts_local(wall, self.tz, 1)
        tr = _transition(self.tz, a, b, _offset(self.tz, a))
        return tr + (b - a)

    def _in_first_pass(self, t: int, wall: datetime) -> int:
        """t lies in the first pass of a repeated hour and the schedule runs in both passes."""
        a, b = _ts_local(wall, self.tz, 0), _ts_local(wall, self.tz, 1)
        tr = _transition(self.tz, a, b, _offset(self.tz, a))
        before = _offset(self.tz, a)
        end_wall = _wall(tr, before)  # the wall time at which the first pass ends
        cand = self.expr.next_wall(wall)
        if cand is not None and cand < end_wall:
            return _ts_local(cand, self.tz, 0)
        return self._next_int(tr)

    def _next_int(self, t: int) -> int:
        """The first tick >= t (unix seconds)."""
        for _ in range(16):  # each pass crosses at most one transition
            got = self._next_from(t)
            if isinstance(got, int):
                return got
            t = got[0]
        raise ConfigError("cron: no next time found (zone data too irregular)")


Timing = EveryTiming | CronTiming


@lru_cache(maxsize=4096)
def _cron_timing(cron: str, timezone: str) -> CronTiming:
    return CronTiming(CronExpr.parse(cron), zone(timezone))


def _offset(tz: ZoneInfo, t: int) -> timedelta:
    return datetime.fromtimestamp(t, tz).utcoffset() or timedelta(0)


def _ts(naive_utc: datetime) -> int:
    return int(naive_utc.replace(tzinfo=UTC).timestamp())


def _wall(t: int, off: timedelta) -> datetime:
    return datetime.fromtimestamp(t, UTC).replace(tzinfo=None) + off


def _ts_local(wall: datetime, tz: ZoneInfo, fold: int) -> int:
    return int(wall.replace(tzinfo=tz, fold=fold).timestamp())


def _roundtrips(wall: datetime, tz: ZoneInfo, t: int) -> bool:
    return datetime.fromtimestamp(t, tz).replace(tzinfo=None) == wall


def _transition(tz: ZoneInfo, lo: int, hi: int, off: timedelta) -> int:
    """The first instant in (lo, hi] whose offset is not `off` (hi when none is found)."""
    week = 7 * 86_400
    while hi - lo > week and _offset(tz, lo + week) == off:
        lo += week
    hi = min(hi, lo + week)
    if _offset(tz, hi) == off:
        return hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset(tz, mid) == off:
            lo = mid
        else:
            hi = mid
    return hi
