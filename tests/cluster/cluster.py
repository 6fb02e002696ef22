"""Start and stop a private Redis Cluster on 127.0.0.1 (6 nodes: 3 masters, 3 replicas)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

BASE_PORT_ENV = "RELAY_CLUSTER_BASE_PORT"  # default 7000: nodes on 7000..7005
SLOTS = 16384


def _base_port() -> int:
    return int(os.environ.get(BASE_PORT_ENV, "7000"))


def _port_busy(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _exe(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise RuntimeError(f"{name} not found: apt-get install -y redis-server redis-tools")
    return exe


@dataclass
class Cluster:
    """A Redis Cluster whose processes we own; `url` is a relay `redis+cluster://` URL."""

    masters: int = 3
    replicas: int = 1  # per master
    base_port: int = field(default_factory=_base_port)
    node_timeout_ms: int = 1000
    extra: tuple[str, ...] = ()  # more redis-server arguments; later ones win
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="relay-cluster-")))
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def ports(self) -> list[int]:
        return list(range(self.base_port, self.base_port + self.masters * (1 + self.replicas)))

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.base_port}"

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Cluster:
        busy = [p for p in self.ports if _port_busy(p)]
        if busy:
            raise RuntimeError(
                f"ports {busy} on 127.0.0.1 are in use; the test cluster needs "
                f"{self.ports[0]}..{self.ports[-1]} free (stop what holds them, or set "
                f"{BASE_PORT_ENV} to another base port)"
            )
        try:
            for port in self.ports:
                self.start_node(port)
            self._create()
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def start_node(self, port: int) -> None:
        """Start (or restart, keeping its data and nodes.conf) the node on `port`."""
        d = self.root / str(port)
        d.mkdir(parents=True, exist_ok=True)
        args = [
            _exe("redis-server"),
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--dir", str(d),
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(self.node_timeout_ms),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            # a rejoining replica syncs at once (the default waits 5 s for company)
            "--repl-diskless-sync-delay", "0",
            "--save", "",
            "--maxmemory-policy", "noeviction",
            "--logfile", str(d / "redis.log"),
            *self.extra,
        ]  # fmt: skip
        self.procs[port] = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.node(port).ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {port}; see {d}/redis.log")

    def _create(self) -> None:
        if self.masters >= 3:
            subprocess.run(
                [
                    _exe("redis-cli"),
                    "--cluster",
                    "create",
                    *(f"127.0.0.1:{p}" for p in self.ports),
                    "--cluster-replicas",
                    str(self.replicas),
                    "--cluster-yes",
                ],
                check=True,
                capture_output=True,
                timeout=60,
            )
            return
        # redis-cli wants 3 masters; smaller clusters (for the shard-scaling bench) by hand.
        first = self.ports[0]
        step = SLOTS // self.masters
        for i in range(self.masters):
            hi = SLOTS - 1 if i == self.masters - 1 else (i + 1) * step - 1
            self.cmd(first + i, "CLUSTER", "ADDSLOTSRANGE", i * step, hi)
        for port in self.ports[1:]:
            self.cmd(port, "CLUSTER", "MEET", "127.0.0.1", first)
        self._wait(lambda: all(len(self._nodes(p)) == len(self.ports) for p in self.ports))
        for i, port in enumerate(self.ports[self.masters :]):
            master = self.node_id(first + i % self.masters)
            self.cmd(port, "CLUSTER", "REPLICATE", master)

    def stop(self) -> None:
        """Terminate every node we started and remove their data."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self.procs.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def kill(self, port: int) -> None:
        """SIGKILL one node (a crash); its data dir stays for a restart."""
        proc = self.procs[port]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    # -- inspection ---------------------------------------------------------------------------

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, socket_connect_timeout=1)

    def cmd(self, port: int, *args: str | int) -> Any:
        """One raw command to the node on `port`."""
        return self.node(port).execute_command(*args)  # type: ignore[no-untyped-call]

    def alive(self) -> list[int]:
        return [p for p, proc in self.procs.items() if proc.poll() is None]

    def masters_ports(self) -> list[int]:
        """Ports of the live nodes that are masters now (failovers move them)."""
        return [p for p in self.alive() if self.node(p).info("replication")["role"] == "master"]

    def failovers(self) -> int:
        """How many times a replica was promoted so far (each winner logs it once)."""
        logs = (self.root / str(p) / "redis.log" for p in self.ports)
        return sum(
            f.read_text(errors="replace").count("Failover election won") for f in logs if f.exists()
        )

    def node_id(self, port: int) -> str:
        return str(self.cmd(port, "CLUSTER", "MYID").decode())

    def _nodes(self, port: int) -> list[list[str]]:
        raw = self.cmd(port, "CLUSTER", "NODES")
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        return [line.split() for line in text.splitlines() if line.strip()]

    def master_of(self, key: str) -> int:
        """The port of the master serving `key`'s slot, as the first live node sees it."""
        port = self.alive()[0]
        slot = int(self.cmd(port, "CLUSTER", "KEYSLOT", key))
        for row in self.cmd(port, "CLUSTER", "SLOTS"):
            lo, hi, master = int(row[0]), int(row[1]), row[2]
            if lo <= slot <= hi:
                return int(master[1])
        raise LookupError(f"no master serves slot {slot}")

    def replica_of(self, master_port: int) -> int:
        master = self.node_id(master_port)
        for row in self._nodes(master_port):
            if "slave" in row[2] and row[3] == master:
                return int(row[1].split("@")[0].rsplit(":", 1)[1])
        raise LookupError(f"master {master_port} has no replica")

    def healthy(self) -> bool:
        """Every node is up, agrees the cluster is ok, and every replica is in sync."""
        if len(self.alive()) != len(self.ports):
            return False
        try:
            return all(self._node_ok(port) for port in self.ports)
        except redis.RedisError:
            return False

    def _node_ok(self, port: int) -> bool:
        info = self.cmd(port, "CLUSTER", "INFO").decode()
        if "cluster_state:ok" not in info or f"cluster_known_nodes:{len(self.ports)}" not in info:
            return False
        repl = self.node(port).info("replication")
        if repl["role"] == "slave":
            return bool(repl["master_link_status"] == "up" and not repl["master_sync_in_progress"])
        if repl["connected_slaves"] != self.replicas:
            return False
        # The replication link comes up before gossip tells the master's own node table which
        # node is its replica; replica_of (the failover tests) reads that table.
        me = self.node_id(port)
        known = sum(1 for row in self._nodes(port) if "slave" in row[2] and row[3] == me)
        return known == self.replicas

    def wait_healthy(self, timeout_s: float = 30) -> None:
        self._wait(self.healthy, timeout_s)

    def _wait(self, ok: Callable[[], bool], timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while not ok():
            if time.monotonic() > deadline:
                raise TimeoutError(f"cluster not ready after {timeout_s} s (logs in {self.root})")
            time.sleep(0.05)


def _main() -> None:
    """A cluster to poke at by hand: `python -m tests.cluster.cluster`; Ctrl-C stops it."""
    c = Cluster().start()
    for sig in (signal.SIGTERM, signal.SIGINT):  # stop() on `kill`, and when run in background
        signal.signal(sig, lambda *_: sys.exit(0))
    sys.stdout.write(f"{c.url} - Ctrl-C stops it\n")
    sys.stdout.flush()
    try:
        signal.pause()
    finally:
        c.stop()


if __name__ == "__main__":
    _main()
