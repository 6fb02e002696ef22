"""`relay flow QUEUE ID`: a flow as a tree from a shell, against real Redis."""

from __future__ import annotations

import asyncio

import pytest

from relay import Broker, Flow, Producer
from relay.cli import main


async def test_flow_prints_the_tree_from_the_root(
    broker: Broker, queue: str, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    kids = f"{queue}-kids"
    out = await Producer(broker).enqueue_flow(
        Flow(queue, "album", children=[Flow(kids, "resize", i) for i in range(2)])
    )
    leaf = out.jobs[2]
    argv = ["flow", kids, leaf.id, "--redis", redis_url]
    assert await asyncio.to_thread(main, argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"waiting    {queue}/{out.id} album"
    assert sorted(lines[1:]) == sorted(
        f"  ready      {kids}/{j.id} resize" + (" *" if j.id == leaf.id else "")
        for j in out.jobs[1:]
    )


async def test_flow_of_an_unknown_job_is_one_readable_line(
    queue: str, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["flow", queue, "nope", "--redis", redis_url]
    assert await asyncio.to_thread(main, argv) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0]
