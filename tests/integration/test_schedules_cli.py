"""`relay schedules list|trigger|pause|resume|delete`: one readable line, exit 2 on error."""

from __future__ import annotations

import asyncio

import pytest

from relay import Broker, Schedule
from relay.cli import main


def _seed(url: str, queue: str) -> None:
    async def go() -> None:
        b = Broker.from_url(url)
        await b.upsert_schedule(queue, Schedule(name="nightly", cron="30 2 * * *", type="report"))
        await b.upsert_schedule(queue, Schedule(name="beat", every_ms=5000))
        await b.close()

    asyncio.run(go())


def test_list_trigger_pause_delete(
    redis_url: str, queue: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(redis_url, queue)
    assert main(["schedules", "--redis", redis_url, "list", queue]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["NAME", "WHEN", "TYPE"]
    assert lines[1].startswith("beat") and "every 5 s" in lines[1]
    assert (
        lines[2].startswith("nightly") and "30 2 * * * (UTC)" in lines[2] and "report" in lines[2]
    )
    assert main(["schedules", "--redis", redis_url, "trigger", queue, "nightly"]) == 0
    assert capsys.readouterr().out.startswith("enqueued job ")
    assert main(["schedules", "--redis", redis_url, "pause", queue, "beat"]) == 0
    assert capsys.readouterr().out.strip() == "schedule beat paused"
    assert main(["schedules", "--redis", redis_url, "resume", queue, "beat"]) == 0
    assert "resumed; next run" in capsys.readouterr().out
    assert main(["schedules", "--redis", redis_url, "delete", queue, "beat"]) == 0
    assert capsys.readouterr().out.strip() == "deleted schedule beat"
    assert main(["schedules", "--redis", redis_url, "list", queue]) == 0
    assert "beat" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["delete", "{q}", "nope"], "no schedule 'nope'"),
        (["trigger", "{q}", "nope"], "no schedule 'nope'"),
        (["list", "bad queue"], "invalid queue name"),
        (["delete", "{q}", "a b"], "name"),
    ],
)
def test_errors_are_one_line_and_exit_2(
    redis_url: str, queue: str, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    args = [a.replace("{q}", queue) for a in argv]
    assert main(["schedules", "--redis", redis_url, *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("relay: error: ") and says in err and len(err.splitlines()) == 1
