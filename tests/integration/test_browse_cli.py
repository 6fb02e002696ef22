"""`relay jobs` and `relay promote`: the job browser from a shell, against real Redis."""

from __future__ import annotations

import asyncio
import json

import pytest

from relay import Broker, JobSpec
from relay.cli import main
from tests.support.invariant import states_of


def _run_cli(argv: list[str]) -> int:
    # The CLI runs its own event loop (asyncio.run): call it from a worker thread.
    return main(argv)


async def test_jobs_lists_a_state_and_promote_runs_a_delayed_job(
    broker: Broker, queue: str, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await broker.enqueue_many(
        queue, [JobSpec.of("mail", {"to": i}, delay_ms=60_000) for i in range(3)]
    )
    await broker.enqueue(queue, "other", delay_ms=60_000)
    argv = [
        "jobs",
        queue,
        "--state",
        "delayed",
        "--type",
        "mail",
        "--limit",
        "2",
        "--redis",
        redis_url,
    ]
    assert await asyncio.to_thread(_run_cli, argv) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["ID", "TYPE"] and "RUN AT" in lines[0]
    assert len(lines) == 3 and all(" mail " in line for line in lines[1:])
    assert err.startswith("more: --cursor ")
    assert await asyncio.to_thread(_run_cli, [*argv, "--json", "--cursor", err.split()[-1]]) == 0
    [last] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    first_two = {line.split()[0] for line in lines[1:]}
    assert last["type"] == "mail" and last["id"] not in first_two
    assert last["payload_preview"].startswith('{"to":')

    promote = ["promote", queue, last["id"], "--redis", redis_url]
    assert await asyncio.to_thread(_run_cli, promote) == 0
    assert (await states_of(broker.redis, queue))["ready"] == [last["id"]]
    assert await asyncio.to_thread(_run_cli, promote) == 2  # moved on: one readable line
    err = capsys.readouterr().err
    assert err.strip().endswith("nothing was changed") and "is ready, not delayed" in err
    assert err.count("\n") == 1


async def test_a_bad_state_is_one_readable_line(
    queue: str, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["jobs", queue, "--state", "sleeping", "--redis", redis_url]
    assert await asyncio.to_thread(_run_cli, argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("relay: error: state must be one of") and err.count("\n") == 1


async def test_jobs_inflight_names_the_worker_holding_each_job(
    broker: Broker, queue: str, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await broker.enqueue_many(queue, [JobSpec.of("mail", {"to": i}) for i in range(2)])
    [named] = (await broker.claim(queue, 1, 60_000, "host/relay-worker-7-ab")).jobs
    [anon] = (await broker.claim(queue, 1, 60_000)).jobs
    argv = ["jobs", queue, "--state", "inflight", "--redis", redis_url]
    assert await asyncio.to_thread(_run_cli, argv) == 0
    head, *rows = capsys.readouterr().out.splitlines()
    assert "LEASE UNTIL" in head and head.index("WORKER") < head.index("PAYLOAD")
    by_id = {line.split()[0]: line for line in rows}
    assert " host/relay-worker-7-ab " in by_id[named.id] and " - " in by_id[anon.id]
    assert by_id[named.id].index("host/") == head.index("WORKER")
    await broker.ack(queue, [(named.id, named.token), (anon.id, anon.token)])


async def test_jobs_ready_lists_a_group_with_group(
    broker: Broker, queue: str, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    grouped = [
        r.id
        for r in await broker.enqueue_many(
            queue, [JobSpec.of("m", i, group="acme") for i in range(3)]
        )
    ]
    plain = await broker.enqueue(queue, "m")
    argv = ["jobs", queue, "--state", "ready", "--redis", redis_url]
    assert await asyncio.to_thread(_run_cli, [*argv, "--group", "acme"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]] == grouped
    assert await asyncio.to_thread(_run_cli, argv) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]] == [plain.id]
    bad = ["jobs", queue, "--state", "dead", "--group", "acme", "--redis", redis_url]
    assert await asyncio.to_thread(_run_cli, bad) == 2
    err = capsys.readouterr().err
    assert err.startswith("relay: error: group: only state=ready") and err.count("\n") == 1
