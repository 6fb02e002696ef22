"""Print a short jobs/s table from the newest pytest-benchmark JSON under .benchmarks/."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    files = sorted(Path(".benchmarks").rglob("*.json"), key=lambda p: p.stat().st_mtime)
    if not files:
        print("no benchmark results under .benchmarks/", file=sys.stderr)
        return 1
    data = json.loads(files[-1].read_text())
    print(f"{'benchmark':58} {'median':>12} {'jobs/s or ops/s':>16}")
    for b in data["benchmarks"]:
        med = b["stats"]["median"]
        extra = b.get("extra_info", {})
        per = extra.get("jobs_per_round", 1)
        line = f"{b['fullname'].split('::')[-1]:58} {med * 1e6:10.1f}us {per / med:16,.0f}"
        if "redis_us_per_page" in extra:  # benches/test_bench_browse.py
            line += f"   (in Redis: {extra['redis_us_per_page']} us a page)"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
