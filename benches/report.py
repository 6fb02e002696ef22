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
        per = b.get("extra_info", {}).get("jobs_per_round", 1)
        print(f"{b['fullname'].split('::')[-1]:58} {med * 1e6:10.1f}us {per / med:16,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
