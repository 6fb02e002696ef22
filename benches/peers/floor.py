"""The enqueue->start latency floor of this machine: one RPUSH from one process wakes a BLPOP in
another, after the same random idle gaps as the race's latency probes.

No queue can start a job sooner after an idle spell than Redis can hand one value from one
process to another, so this is the yardstick for every system's latency p50/p99.

    python floor.py --redis URL --samples 200 --gap-ms 50   # prints RACE-RESULT {...}
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time

import redis

KEY, LAT = "race:floor", "race:floor:lat"


def waiter(url: str) -> None:
    r = redis.Redis.from_url(url)
    r.rpush(LAT, "ready")
    while True:
        got = r.blpop([KEY], timeout=30)
        t = time.time()
        if got is None or got[1] == b"stop":
            return
        r.rpush(LAT, repr(t - float(got[1])))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis", required=True)
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--gap-ms", type=float, default=50.0)
    ap.add_argument("--waiter", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.waiter:
        waiter(args.redis)
        return
    r = redis.Redis.from_url(args.redis)
    r.delete(KEY, LAT)
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--waiter", "--redis", args.redis])
    lat: list[float] = []
    try:
        if r.blpop([LAT], timeout=30) is None:
            raise SystemExit("the waiter process did not start")
        rng = random.Random(12345)
        for i in range(args.warmup + args.samples):
            time.sleep(rng.uniform(0, args.gap_ms) / 1000.0)
            r.rpush(KEY, repr(time.time()))
            got = r.blpop([LAT], timeout=10)
            if got is not None and i >= args.warmup:
                lat.append(float(got[1]))
        r.rpush(KEY, "stop")
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    r.delete(KEY, LAT)
    sys.stdout.write("RACE-RESULT " + json.dumps({"samples": len(lat), "latencies_s": lat}) + "\n")


if __name__ == "__main__":
    main()
