"""Schedules: cron and fixed-interval jobs, one job per tick, fired by every worker's promoter."""

from relay.schedules.model import Cron, Every, Misfire, Schedule, ScheduleInfo

__all__ = ["Cron", "Every", "Misfire", "Schedule", "ScheduleInfo"]
