"""BullMQ on Node.js adapter: a thin shim that execs `node node/bullmq_node/race.js`
with the same CLI (so the process the harness started *is* the node worker).

default: Worker concurrency=1 (BullMQ default).
tuned:   concurrency=100 (BullMQ docs: raise local concurrency for async / I/O-bound processors).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_DIR = os.path.join(os.path.dirname(HERE), "node")
SCRIPT = os.path.join(NODE_DIR, "bullmq_node", "race.js")

INFO = {
    "name": "bullmq-node",
    "packages": [],
    "default": "concurrency=1 (default)",
    "tuned": "concurrency=100",
    "bulk": True,
    "notes": "Node.js BullMQ + ioredis; bulk = Queue.addBulk (one multi/exec per batch)",
}


def _node() -> str | None:
    return os.environ.get("RACE_NODE") or shutil.which("node")


def _info() -> dict:
    info = dict(INFO)
    node = _node()
    if not node:
        return {**info, "available": False, "error": "node not found on PATH"}
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "bullmq")):
        return {**info, "available": False, "error": "run `npm ci` in benches/peers/node"}
    out = subprocess.run([node, SCRIPT, "versions"], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        return {**info, "available": False, "error": out.stderr[-500:]}
    info["available"] = True
    info["versions"] = json.loads(out.stdout)
    return info


def main(argv: list[str]) -> None:
    if argv[:1] == ["info"]:
        sys.stdout.write("RACE-RESULT " + json.dumps(_info()) + "\n")
        return
    node = _node()
    if not node:
        raise SystemExit("node not found")
    sys.stdout.flush()
    os.execv(node, [node, SCRIPT, *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
