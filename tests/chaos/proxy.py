"""An asyncio TCP fault proxy between relay processes and Redis (no Toxiproxy here).

It runs its own event loop on a thread, so a test's loop (or a blocking call in the test) never
stalls the traffic it relays. Modes, switched at any time with `set()`:

- `open`: bytes flow both ways untouched.
- `latency`: every chunk, either way, waits `latency` seconds first.
- `blackhole`: a partition: bytes either way are swallowed, new connections are accepted and
  then ignored. A connection that swallowed anything stays dead (as a TCP connection across a
  partition would) and is reset when the partition heals.
- `reset`: every connection is reset (RST) at once, and new ones on arrival.
- `drop_reply`: requests reach Redis, but each reply is, with probability `drop`, thrown away
  and the client connection reset: the command ran, the caller cannot know it did.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
from enum import StrEnum

CHUNK = 65536


class Mode(StrEnum):
    OPEN = "open"
    LATENCY = "latency"
    BLACKHOLE = "blackhole"
    RESET = "reset"
    DROP_REPLY = "drop_reply"


def _rst(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset rather than a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Pair:
    """One client connection and its upstream one."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.dead = False  # swallowed bytes in a partition: never forwards again

    def reset(self) -> None:
        self.dead = True
        _rst(self.client)
        if self.upstream is not None:
            self.upstream.transport.abort()


class FaultProxy:
    """Listens on 127.0.0.1:`port` and relays to 127.0.0.1:`upstream_port`, faults included."""

    def __init__(self, upstream_port: int, port: int = 0, seed: int = 7) -> None:
        self.upstream_port = upstream_port
        self.port = port
        self.mode = Mode.OPEN
        self.latency = 0.0
        self.drop = 1.0
        self.dropped = 0  # replies thrown away so far
        self.resets = 0
        self._drop_next = 0  # replies still to drop, whatever the mode
        self._rng = random.Random(seed)
        self._pairs: set[_Pair] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> FaultProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(10)
        return self

    def stop(self) -> None:
        async def close() -> None:
            for p in list(self._pairs):
                p.reset()
            if self._server is not None:
                self._server.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def set(self, mode: Mode, *, latency: float = 0.0, drop: float = 1.0) -> None:
        """Switch mode; healing (leaving blackhole) resets the connections it swallowed from."""

        async def switch() -> None:
            healing = self.mode is Mode.BLACKHOLE and mode is not Mode.BLACKHOLE
            self.mode, self.latency, self.drop = mode, latency, drop
            if mode is Mode.RESET or healing:
                for p in list(self._pairs):
                    if mode is Mode.RESET or p.dead:
                        p.reset()
                        self.resets += 1

        asyncio.run_coroutine_threadsafe(switch(), self._loop).result(10)

    def drop_next(self, replies: int = 1) -> None:
        """Drop the next `replies` replies (and reset their connections), in any mode."""

        async def arm() -> None:
            self._drop_next = replies

        asyncio.run_coroutine_threadsafe(arm(), self._loop).result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pair = _Pair(writer)
        if self.mode is Mode.RESET:
            _rst(writer)
            return
        self._pairs.add(pair)
        try:
            if self.mode is Mode.BLACKHOLE:
                pair.dead = True
                await self._swallow(reader)
                return
            try:
                up_reader, pair.upstream = await asyncio.open_connection(
                    "127.0.0.1", self.upstream_port
                )
            except OSError:
                _rst(writer)
                return
            await asyncio.gather(
                self._pump(pair, reader, pair.upstream, request=True),
                self._pump(pair, up_reader, writer, request=False),
                return_exceptions=True,
            )
        finally:
            self._pairs.discard(pair)
            for w in (writer, pair.upstream):
                if w is not None:
                    w.transport.abort()

    async def _swallow(self, reader: asyncio.StreamReader) -> None:
        while await reader.read(CHUNK):
            pass

    async def _pump(
        self,
        pair: _Pair,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        request: bool,
    ) -> None:
        while data := await reader.read(CHUNK):
            mode = self.mode
            if pair.dead or mode is Mode.BLACKHOLE:
                pair.dead = True
                continue
            if mode is Mode.LATENCY and self.latency > 0:
                await asyncio.sleep(self.latency)
            elif mode is Mode.RESET:
                pair.reset()
                return
            elif not request and self._drop_next > 0:
                self._drop_next -= 1
                self.dropped += 1
                pair.reset()
                return
            elif mode is Mode.DROP_REPLY and not request and self._rng.random() < self.drop:
                self.dropped += 1
                pair.reset()
                return
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            if writer.can_write_eof():
                writer.write_eof()
