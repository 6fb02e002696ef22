"""`relay groups` and `relay group set|show`: fair scheduling's groups from a shell."""

from __future__ import annotations

import asyncio
import json

import pytest

from relay import Broker, JobSpec
from relay.cli import main


async def test_group_set_then_groups_lists_busiest_first(
    broker: Broker, queue: str, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    specs = [JobSpec.of("t", i, group="big") for i in range(3)]
    await broker.enqueue_many(queue, [*specs, JobSpec.of("t", group="small")])
    argv = ["group", "set", queue, "small", "--max-inflight", "2", "--redis", redis_url]
    assert await asyncio.to_thread(main, argv) == 0
    assert capsys.readouterr().out.strip() == (
        "small: backlog 1, in flight 0; weight 1, max 2 in flight"
    )
    assert await asyncio.to_thread(main, ["groups", queue, "--redis", redis_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["GROUP", "BACKLOG"]
    assert [line.split()[:2] for line in lines[1:3]] == [["big", "3"], ["small", "1"]]
    assert await asyncio.to_thread(main, ["groups", queue, "--json", "--redis", redis_url]) == 0
    page = json.loads(capsys.readouterr().out)
    assert page["total"] == 2 and page["limited"] == 1


async def test_bad_limits_exit_non_zero_with_one_line(
    broker: Broker, queue: str, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await broker.enqueue(queue, "t", group="g")
    argv = ["group", "set", queue, "g", "--rate", "5", "--redis", redis_url]
    assert await asyncio.to_thread(main, argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "burst" in err[0]
