"""One API, four faces: Producer, SyncProducer, AsyncClient and Client offer the same calls.

The calls are derived from the classes, so a call (or a parameter, or a default) added to one
face alone fails here. async vs blocking is the only difference allowed; the few calls that
belong to one transport are listed below, each with its reason.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
from typing import Any

import pytest

from relay import AsyncClient, Client, Producer, SyncProducer

FACES: dict[str, type[Any]] = {
    "Producer": Producer,
    "SyncProducer": SyncProducer,
    "AsyncClient": AsyncClient,
    "Client": Client,
}
ASYNC_FACES = {"Producer", "AsyncClient"}
REDIS_FACES = {"Producer", "SyncProducer"}

# Calls that exist on one transport only, and why. Nothing else may differ.
REDIS_ONLY = {
    # A Redis face is made from a Redis URL; an HTTP client from its constructor (base_url,
    # token): construction is the one place a move between transports changes code.
    "from_url": "made from a Redis URL; HTTP clients take base_url in their constructor",
    # The driver of relay.broker.ops / relay.broker.calls on the face's connection: how a
    # Redis call is run, not a call of the API (HTTP's counterpart is the private `_send`).
    "perform": "runs a sans-I/O Redis operation; HTTP clients send relay.http.calls.Call",
}
HTTP_ONLY: dict[str, str] = {}


def public_calls(cls: type[Any]) -> dict[str, Any]:
    """The face's public calls: its non-underscore callables (inherited ones too), by name."""
    calls = {}
    for name in dir(cls):
        raw = inspect.getattr_static(cls, name)
        if not name.startswith("_") and (
            isinstance(raw, (staticmethod, classmethod)) or inspect.isfunction(raw)
        ):
            calls[name] = getattr(cls, name)
    return calls


def shape(fn: Any) -> list[tuple[str, object, object, object]]:
    """A signature as comparable data: each parameter's name, kind, default and annotation,
    then the return annotation (`self` left out). An iterator call (`jobs`) is an `async def`
    generator on the async faces and a plain generator on the blocking ones: that is their
    async/blocking difference, so `AsyncIterator[X]` compares as `Iterator[X]`."""
    sig = inspect.signature(fn)
    params = [p for p in sig.parameters.values() if p.name != "self"]
    rows = [(p.name, p.kind, p.default, p.annotation) for p in params]
    ret = sig.return_annotation
    if inspect.isasyncgenfunction(fn):
        assert isinstance(ret, str) and ret.startswith("AsyncIterator["), f"{fn}: {ret}"
        ret = ret.removeprefix("Async")
    return [*rows, ("return", None, None, ret)]


def kind(fn: Any) -> str:
    """How a call answers: "call" (a result, awaited or not) or "iterator" (of results)."""
    iterates = inspect.isasyncgenfunction(fn) or inspect.isgeneratorfunction(fn)
    return "iterator" if iterates else "call"


def api(face: str) -> dict[str, Any]:
    calls = public_calls(FACES[face])
    own = REDIS_ONLY if face in REDIS_FACES else HTTP_ONLY
    missing = set(own) - set(calls)
    assert not missing, f"{face} lacks its listed transport-only calls {missing}"
    return {name: fn for name, fn in calls.items() if name not in own}


def test_every_face_has_the_same_calls() -> None:
    names = {face: set(api(face)) for face in FACES}
    everything = set().union(*names.values())
    for face, have in names.items():
        assert have == everything, f"{face} lacks {sorted(everything - have)}"


@pytest.mark.parametrize("name", sorted(api("Client")))
def test_each_call_has_one_signature_on_every_face(name: str) -> None:
    reference = shape(api("Client")[name])
    for face in FACES:
        assert shape(api(face)[name]) == reference, f"{face}.{name} differs from Client.{name}"


@pytest.mark.parametrize("face", sorted(FACES))
def test_async_faces_await_every_call_and_blocking_ones_none(face: str) -> None:
    """A call is a coroutine function on the async faces, a plain one on the blocking faces;
    an iterator call an `async def` generator on the async faces, a generator on the others."""
    for name, fn in api(face).items():
        waits = inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)
        if isinstance(inspect.getattr_static(FACES[face], name), staticmethod):
            assert not waits, f"{face}.{name} builds, it must not wait"
            continue
        assert waits == (face in ASYNC_FACES), f"{face}.{name}"
        assert kind(fn) == kind(api("Client")[name]), f"{face}.{name} differs from Client.{name}"


def test_jobs_iterates_pages() -> None:
    assert {face: kind(FACES[face].jobs) for face in FACES} == dict.fromkeys(FACES, "iterator")


def test_each_redis_call_is_one_operation_of_relay_broker_calls() -> None:
    from relay.broker import calls  # noqa: PLC0415 - imported here: this file needs no redis

    ops = {
        n
        for n, f in vars(calls).items()
        if inspect.isfunction(f) and f.__module__ == calls.__name__ and not n.startswith("_")
    }
    # enqueue runs the hot-path pair (relay.broker.ops.enqueue_args/enqueue_reply), `job`
    # only builds a JobSpec and `jobs` pages through list_jobs (relay.faces); `known` is the
    # step the queue calls share, `has_queue` its registry-healing lookup (the server's 404
    # check runs it too).
    own = {"enqueue", "enqueue_many", "job", "jobs", "close"}
    assert ops == set(api("Producer")) - own | {
        "known",
        "has_queue",
    }


def _loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("statement", ["import relay", "import relay.client", "relay_client"])
def test_the_http_sdk_and_the_package_load_neither_redis_nor_the_worker_nor_the_server(
    statement: str,
) -> None:
    if statement == "relay_client":
        statement = "from relay import Client, AsyncClient, JobSpec, QueueStats, ConfigError"
    loaded = _loaded_after(statement)
    # aiohttp too: only AsyncClient needs it, and it loads on AsyncClient's first call
    for heavy in ("redis", "relay.broker", "relay.worker", "relay.http.app", "aiohttp"):
        assert heavy not in loaded, f"`{statement}` loaded {heavy}"


def test_lazy_names_resolve_and_are_listed() -> None:
    import relay  # noqa: PLC0415

    for name in relay.__all__:
        assert getattr(relay, name) is not None
    assert set(relay.__all__) <= set(dir(relay))
    with pytest.raises(AttributeError):
        relay.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
