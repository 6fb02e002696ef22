"""Child processes of `relay demo`: a private redis-server, the server, the workers.

Every child runs in a process group of its own, so Ctrl-C in the terminal reaches only the
demo, which then stops the children in order (workers and server first, Redis last). On Linux
each child also gets SIGTERM if the demo itself dies without cleaning up.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from relay.errors import ConfigError

_PR_SET_PDEATHSIG = 1
REDIS_INSTALL_HINT = (
    "relay demo starts a private Redis when no --redis URL (or RELAY_REDIS_URL) is given, "
    "but redis-server is not installed: install it with `apt-get install redis-server` "
    "(Debian/Ubuntu; `brew install redis` on macOS), or pass --redis redis://HOST:PORT"
)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    """A process the demo started, and the file its output goes to."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 15) -> str:
        """The last lines of its output, for an error message."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def spawn(name: str, argv: Sequence[str], log: Path, env: dict[str, str]) -> Child:
    """Start `argv` in its own process group with its output in `log`."""
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - argv is built by the demo, not from input
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            process_group=0,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509 - children are started before any thread
        )
    return Child(name, proc, log)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def claim_port(host: str, port: int) -> int:
    """`port` if nothing listens on it (0: any free port); ConfigError in one line if taken."""
    if port == 0:
        return free_port()
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"port {port} on {host} is already in use; pass --port N, "
                    "or --port 0 for any free port"
                ) from None
            raise ConfigError(f"cannot use port {port} on {host}: {exc.strerror}") from None
    return port


def start_redis(workdir: Path) -> tuple[Child, str]:
    """A private redis-server on a free loopback port, its data in `workdir`; (child, url)."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise ConfigError(REDIS_INSTALL_HINT)
    port = free_port()
    data = workdir / "redis"
    data.mkdir()
    argv = [
        exe,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data),
        "--save",
        "",
        "--appendonly",
        "no",
        "--maxmemory-policy",
        "noeviction",
    ]
    child = spawn("redis", argv, workdir / "redis.log", {})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not child.alive():
            break
        if _pong(port):
            return child, f"redis://127.0.0.1:{port}/0"
        time.sleep(0.02)
    stop([child], grace=2)
    raise ConfigError(f"redis-server did not start on port {port}:\n{child.tail()}")


def _pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _never() -> bool:
    return False


def stop(children: Sequence[Child], grace: float, hurry: Callable[[], bool] = _never) -> None:
    """SIGTERM every child, wait up to `grace` seconds (less once `hurry()`), then SIGKILL."""
    for c in children:
        if c.alive():
            with contextlib.suppress(ProcessLookupError):
                c.proc.terminate()
    deadline = time.monotonic() + grace
    while any(c.alive() for c in children) and time.monotonic() < deadline and not hurry():
        time.sleep(0.05)
    for c in children:
        if c.alive():
            with contextlib.suppress(ProcessLookupError):
                c.proc.kill()
        c.proc.wait()
