"""Soak: run the pytest suite N times in a row while a CPU hog holds one core; report every flake.

    SOAK_N=5 python -m tests.support.soak [pytest args...]      (what `make soak-ci` runs)

Each run gets its own hypothesis seed (printed, and passed as `--hypothesis-seed`, so a failing
run is reproduced by the same command with that seed) and keeps its full log and JUnit report
in `SOAK_DIR` (default `.soak/run-K.log`, `.soak/run-K.xml`). Per run it prints the pass / fail
counts and each failure's test id; at the end, failures per test. Exit status 1 when any run
failed. The hog is a child process of this script, started before the first run and ended by
its PID after the last (or on Ctrl-C).
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

_HYPOTHESIS_MARKS = ("hypothesis", "Falsifying", "Failing test case", "state.teardown()", "@given")
_SEED_IN_TEXT = re.compile(r"@seed\((\d+)\)|--hypothesis-seed=(\d+)|@reproduce_failure\([^)]*\)")


@dataclass
class Run:
    """The outcome of one pytest run."""

    number: int
    seed: int
    log: Path
    rc: int = 0
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (test id, seed note)


def _test_id(case: ElementTree.Element) -> str:
    file, name = case.get("file"), case.get("name", "?")
    classname = case.get("classname", "")
    if not file:
        return f"{classname}::{name}"
    module = file[:-3].replace("/", ".") if file.endswith(".py") else file
    cls = classname[len(module) + 1 :] if classname.startswith(module + ".") else ""
    return f"{file}::{cls}::{name}" if cls else f"{file}::{name}"


def _seed_note(text: str, run_seed: int) -> str:
    found = _SEED_IN_TEXT.search(text)
    if found:
        return found.group(0)
    if any(m in text for m in _HYPOTHESIS_MARKS):
        return f"--hypothesis-seed={run_seed}"
    return ""


def read_report(run: Run, xml: Path) -> None:
    """Fill `run`'s counts and failures from its JUnit report."""
    counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    if not xml.exists():  # pytest died before writing it (a crash, a timeout of the whole run)
        run.failures.append(("<no junit report: see the log>", ""))
        run.counts = counts
        return
    # the report pytest just wrote for us, not untrusted input
    for case in ElementTree.parse(xml).getroot().iter("testcase"):  # noqa: S314
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        if bad is not None:
            counts["failed" if bad.tag == "failure" else "error"] += 1
            text = (bad.get("message") or "") + "\n" + (bad.text or "")
            run.failures.append((_test_id(case), _seed_note(text, run.seed)))
        elif case.find("skipped") is not None:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
    run.counts = counts


def one_run(number: int, out: Path, pytest_args: list[str]) -> Run:
    """Run the suite once, log and JUnit report under `out`."""
    seed = random.SystemRandom().randrange(2**32)
    run = Run(number, seed, out / f"run-{number}.log")
    xml = out / f"run-{number}.xml"
    xml.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-rfE",
        "-p",
        "no:cacheprovider",
        f"--hypothesis-seed={seed}",
        f"--junitxml={xml}",
        "-o",
        "junit_family=xunit1",
        *pytest_args,
    ]
    start = time.monotonic()
    with run.log.open("wb") as log:
        log.write(("$ " + " ".join(cmd) + "\n").encode())
        log.flush()
        run.rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
    run.seconds = time.monotonic() - start
    read_report(run, xml)
    if run.rc != 0 and not run.failures:  # e.g. a usage error, or an internal error
        run.failures.append((f"<pytest exit status {run.rc}: see the log>", ""))
    return run


def report(run: Run, total: int) -> None:
    """One run's line, then one line per failure."""
    c = run.counts
    print(
        f"run {run.number}/{total}: {c.get('passed', 0)} passed, {c.get('failed', 0)} failed, "
        f"{c.get('error', 0)} errors, {c.get('skipped', 0)} skipped in {run.seconds:.0f} s "
        f"(hypothesis seed {run.seed}; log {run.log})",
        flush=True,
    )
    for test, seed in run.failures:
        print(f"  FAILED {test}" + (f"  [{seed}]" if seed else "") + f"  log {run.log}")


def summary(runs: list[Run]) -> int:
    """Failures per test over all runs; the exit status."""
    per_test: dict[str, list[int]] = defaultdict(list)
    for run in runs:
        for test, _ in run.failures:
            per_test[test].append(run.number)
    failed_runs = sum(1 for r in runs if r.failures)
    print(f"\nsoak: {len(runs)} runs, {failed_runs} with failures")
    for test, numbers in sorted(per_test.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        print(f"  {len(numbers)}/{len(runs)}  {test}  (runs {', '.join(map(str, numbers))})")
    return 1 if failed_runs else 0


def main(argv: list[str]) -> int:
    """Run the soak; `argv` is passed to pytest (default: the whole suite)."""
    n = int(os.environ.get("SOAK_N", "5"))
    out = Path(os.environ.get("SOAK_DIR", ".soak"))
    out.mkdir(parents=True, exist_ok=True)
    hog = subprocess.Popen([sys.executable, "-c", "while 1: pass"])
    print(
        f"soak: {n} runs of pytest {' '.join(argv)} with a CPU hog (pid {hog.pid}); logs in {out}"
    )
    runs: list[Run] = []
    try:
        for k in range(1, n + 1):
            runs.append(one_run(k, out, argv))
            report(runs[-1], n)
    finally:
        hog.kill()  # our own child, by its PID
        hog.wait()
    return summary(runs)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
