#!/usr/bin/env python3
"""Side-by-side race of Redis job queues: the same work for every system, one
Redis started for the run, one worker process per system.

    python race.py                       # 20,000 jobs x 3 runs, every available system
    python race.py --quick               # CI smoke: 2,000 jobs x 1 run, 50 latency samples
    python race.py --systems arq,rq --jobs 5000 --runs 1

Each system is an adapter (``systems/<name>.py``, see README.md) driven only
through its CLI, in subprocesses with timeouts.  Results go to
``results/latest.json`` (plus ``results/latest.md`` rendered by ``render.py``).
Run it with ``benches/peers/.venv/bin/python`` (``run.sh`` does the setup).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import redis

from render import ceiling_summary, summarize

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SYSTEMS_DIR = HERE / "systems"
DONE_KEY = "race:done"
# How handlers count themselves done (--count): "batched" = in process memory, added to
# race:done every 2 ms by one INCRBY; "per-job" = one INCR race:done per job.
COUNT_MODE = "batched"

# Run order when --systems is not given.  Any other systems/<name>.py (e.g. a
# future relay.py) is appended automatically.
ORDER = ["relay", "bullmq_node", "dramatiq", "arq", "taskiq_redis", "saq", "celery", "bullmq_py", "rq"]

# Peers whose pins cannot share the main venv (their redis-py caps conflict):
# they get their own venv under .venv/peers/<name>/ (see run.sh).
SUBVENVS = {"arq", "saq"}


def log(msg: str) -> None:
    ts = time.strftime("%H:%M:%S")
    print(f"[{ts}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Redis


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A throwaway redis-server on 127.0.0.1, no persistence, in a temp dir."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.proc: subprocess.Popen | None = None
        self.tmp = tempfile.mkdtemp(prefix="race-redis-")
        self.port = 0

    def start(self) -> str:
        self.port = free_port()
        args = [
            self.binary,
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--save", "",
            "--appendonly", "no",
            "--dir", self.tmp,
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--logfile", os.path.join(self.tmp, "redis.log"),
        ]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"redis://127.0.0.1:{self.port}/0"
        r = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                if r.ping():
                    break
            except redis.ConnectionError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start (see {self.tmp}/redis.log)")
            time.sleep(0.05)
        r.close()
        return url

    def version(self) -> str:
        return redis.Redis(port=self.port).info("server")["redis_version"]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.tmp, ignore_errors=True)


def flush(r: redis.Redis) -> None:
    r.flushall()
    # let jemalloc settle so used_memory deltas are comparable
    time.sleep(0.2)


def used_memory(r: redis.Redis) -> int:
    return int(r.info("memory")["used_memory"])


# --------------------------------------------------------------------------
# subprocess helpers


def python_for(name: str) -> str:
    env = os.environ.get(f"RACE_PYTHON_{name.upper()}")
    if env:
        return env
    if name in SUBVENVS:
        p = HERE / ".venv" / "peers" / name / "bin" / "python"
        if p.exists():
            return str(p)
    return sys.executable


def adapter_cmd(name: str, *args: str) -> list[str]:
    return [python_for(name), "-m", f"systems.{name}", *args]


def child_env(url: str) -> dict[str, str]:
    env = dict(os.environ)
    env["RACE_REDIS_URL"] = url
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(HERE)
    env["RACE_COUNT"] = COUNT_MODE
    return env


def parse_result(stdout: str) -> dict:
    for line in reversed(stdout.splitlines()):
        if line.startswith("RACE-RESULT "):
            return json.loads(line[len("RACE-RESULT "):])
    raise ValueError("no RACE-RESULT line in output")


class PhaseError(RuntimeError):
    pass


def run_adapter(name: str, args: list[str], url: str, timeout: float, logf) -> dict:
    cmd = adapter_cmd(name, *args)
    logf.write(f"\n$ {' '.join(cmd)}\n")
    logf.flush()
    proc = subprocess.Popen(
        cmd, cwd=HERE, env=child_env(url), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(proc)
        out, err = proc.communicate()
        logf.write(out + err)
        raise PhaseError(f"{' '.join(args[:1])} timed out after {timeout:.0f}s")
    logf.write(out + err)
    logf.flush()
    if proc.returncode != 0:
        raise PhaseError(f"{args[0]} exited {proc.returncode}: {err.strip()[-400:]}")
    return parse_result(out)


def tree(pid: int) -> list[psutil.Process]:
    try:
        p = psutil.Process(pid)
        return [p, *p.children(recursive=True)]
    except psutil.Error:
        return []


def kill_tree(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the process we started (and its descendants), SIGKILL leftovers.

    Only PIDs in the tree rooted at our own child are signalled."""
    if proc.poll() is not None:
        return
    procs = tree(proc.pid)
    for p in procs:
        try:
            p.send_signal(signal.SIGTERM)
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for p in alive + [q for q in tree(proc.pid) if q not in alive]:
        try:
            p.kill()
        except psutil.Error:
            pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass


class RssSampler:
    """Peak RSS of a process tree: per-PID VmHWM (kernel-tracked peak),
    summed over every PID seen in the tree during the phase."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.hwm: dict[int, int] = {}
        self.max_sum_rss = 0
        self._known: list[int] = [root]
        self._last_scan = 0.0

    def sample(self) -> None:
        now = time.monotonic()
        if now - self._last_scan > 0.5:
            self._known = [p.pid for p in tree(self.root)] or self._known
            self._last_scan = now
        total = 0
        for pid in self._known:
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            self.hwm[pid] = max(self.hwm.get(pid, 0), int(line.split()[1]) * 1024)
                        elif line.startswith("VmRSS:"):
                            total += int(line.split()[1]) * 1024
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                pass
        self.max_sum_rss = max(self.max_sum_rss, total)

    def result(self) -> dict:
        return {
            "peak_rss_bytes": sum(self.hwm.values()),
            "max_concurrent_rss_bytes": self.max_sum_rss,
            "processes": len(self.hwm),
        }


# --------------------------------------------------------------------------
# phases


def phase_enqueue(name, mode, jobs, url, r, timeout, logf, batch) -> dict:
    flush(r)
    before = used_memory(r)
    res = run_adapter(name, ["enqueue", "--mode", mode, "--jobs", str(jobs), "--batch", str(batch), "--redis", url],
                      url, timeout, logf)
    after = used_memory(r)
    sec = float(res["seconds"])
    return {
        "mode": mode,
        "jobs": jobs,
        "seconds": sec,
        "jobs_per_s": jobs / sec if sec > 0 else None,
        "redis_bytes_per_job": (after - before) / jobs,
        "redis_used_memory_before": before,
        "redis_used_memory_after": after,
    }


def phase_drain(name, spec, jobs, url, r, timeout, logf) -> dict:
    """Start the worker; time from the first observed completion to race:done >= jobs."""
    r.delete(DONE_KEY)
    cmd = adapter_cmd(name, "worker", "--concurrency", spec, "--redis", url)
    logf.write(f"\n$ {' '.join(cmd)}\n")
    logf.flush()
    t_spawn = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=HERE, env=child_env(url), stdout=logf, stderr=subprocess.STDOUT,
                            start_new_session=True)
    sampler = RssSampler(proc.pid)
    t_first = d_first = None
    t_last = None
    done = 0
    last_rss = 0.0
    status = "ok"
    try:
        deadline = t_spawn + timeout
        while True:
            now = time.perf_counter()
            done = int(r.get(DONE_KEY) or 0)
            if done and t_first is None:
                t_first, d_first = now, done
            if done >= jobs:
                t_last = now
                break
            if now - last_rss >= 0.1:
                sampler.sample()
                last_rss = now
            if proc.poll() is not None:
                status = f"worker exited with {proc.returncode} after {done}/{jobs} jobs"
                break
            if now > deadline:
                status = f"timeout after {timeout:.0f}s with {done}/{jobs} jobs"
                break
            time.sleep(0.005)
        sampler.sample()
    finally:
        kill_tree(proc)
    out: dict[str, Any] = {"spec": spec, "jobs": jobs, "completed": done, "status": status,
                           "loadavg_1m_end": round(os.getloadavg()[0], 2)}
    out.update(sampler.result())
    if t_first is not None:
        out["startup_s"] = t_first - t_spawn
        end = t_last if t_last is not None else time.perf_counter()
        span = end - t_first
        n = (done if t_last is None else jobs) - d_first
        out["drain_s"] = span
        out["jobs_per_s"] = n / span if span > 0 and n > 0 else None
        out["jobs_per_s_incl_startup"] = (jobs if t_last else done) / (end - t_spawn)
    if status != "ok":
        out["partial"] = True
    time.sleep(0.3)
    extra = int(r.get(DONE_KEY) or 0)
    if extra > jobs:
        out["over_completed"] = extra - jobs  # duplicate executions
    return out


def phase_latency(name, samples, url, r, timeout, logf, gap_ms) -> dict:
    flush(r)
    cmd = adapter_cmd(name, "worker", "--concurrency", "default", "--redis", url)
    logf.write(f"\n$ {' '.join(cmd)}\n")
    logf.flush()
    proc = subprocess.Popen(cmd, cwd=HERE, env=child_env(url), stdout=logf, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        res = run_adapter(name, ["latency", "--samples", str(samples), "--gap-ms", str(gap_ms), "--redis", url],
                          url, timeout, logf)
    finally:
        kill_tree(proc)
    lat = sorted(res.get("latencies_s") or [])
    out = {"samples": len(lat), "lost": res.get("lost", 0)}
    if lat:
        out.update(
            p50_ms=pct(lat, 50) * 1000,
            p99_ms=pct(lat, 99) * 1000,
            mean_ms=statistics.fmean(lat) * 1000,
            max_ms=lat[-1] * 1000,
        )
    return out


def pct(sorted_vals: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    if not sorted_vals:
        return float("nan")
    k = max(0, min(len(sorted_vals) - 1, int(round(q / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


# --------------------------------------------------------------------------
# driver


def discover() -> list[str]:
    found = sorted(p.stem for p in SYSTEMS_DIR.glob("*.py") if not p.stem.startswith("_"))
    return [n for n in ORDER if n in found] + [n for n in found if n not in ORDER]


def get_info(name: str, url: str) -> dict:
    try:
        out = subprocess.run(adapter_cmd(name, "info"), cwd=HERE, env=child_env(url), capture_output=True,
                             text=True, timeout=120)
        info = parse_result(out.stdout)
    except Exception as exc:
        info = {"name": name, "available": False, "error": repr(exc)}
    info["module"] = name
    return info


def one_run(name: str, info: dict, args, url: str, r: redis.Redis, logf) -> dict:
    jobs = args.jobs
    enq_to = args.enqueue_timeout or 60 + jobs / 100
    drain_to = args.drain_timeout or 60 + jobs / 40
    lat_to = args.latency_timeout or 60 + args.latency_samples * 2.0
    run: dict[str, Any] = {"errors": [], "loadavg_1m_start": round(os.getloadavg()[0], 2)}

    def guarded(key, fn):
        try:
            run[key] = fn()
        except Exception as exc:
            run["errors"].append(f"{key}: {exc}")
            log(f"  {name} {key} FAILED: {exc}")

    # A: single-job enqueue (+ Redis bytes/job) -> drain at default concurrency
    guarded("enqueue_single", lambda: phase_enqueue(name, "single", jobs, url, r, enq_to, logf, args.batch))
    if "enqueue_single" in run:
        log(f"  {name} enqueue single: {run['enqueue_single']['jobs_per_s']:.0f} jobs/s, "
            f"{run['enqueue_single']['redis_bytes_per_job']:.0f} B/job")
        guarded("drain_default", lambda: phase_drain(name, "default", jobs, url, r, drain_to, logf))
        if "drain_default" in run:
            d = run["drain_default"]
            log(f"  {name} drain default: {fmt(d.get('jobs_per_s'))} jobs/s ({d['status']}), "
                f"peak RSS {d['peak_rss_bytes'] / 2**20:.0f} MiB")

    # B: bulk enqueue (if the system has one) -> drain at tuned concurrency
    mode = "bulk" if info.get("bulk") else "single"
    key = "enqueue_bulk" if mode == "bulk" else "enqueue_single_b"
    guarded(key, lambda: phase_enqueue(name, mode, jobs, url, r, enq_to, logf, args.batch))
    if key in run:
        log(f"  {name} enqueue {mode}: {run[key]['jobs_per_s']:.0f} jobs/s")
        if info.get("tuned_same_as_default") and not args.drain_same_tuned:
            run["drain_tuned"] = {"skipped": "tuned == default"}
        else:
            guarded("drain_tuned", lambda: phase_drain(name, "tuned", jobs, url, r, drain_to, logf))
            if "drain_tuned" in run:
                d = run["drain_tuned"]
                log(f"  {name} drain tuned: {fmt(d.get('jobs_per_s'))} jobs/s ({d['status']}), "
                    f"peak RSS {d['peak_rss_bytes'] / 2**20:.0f} MiB")

    # C: enqueue->start latency on an idle queue, default worker settings
    if args.latency_samples > 0:
        guarded("latency", lambda: phase_latency(name, args.latency_samples, url, r, lat_to, logf, args.gap_ms))
        if "latency" in run and "p50_ms" in run["latency"]:
            log(f"  {name} latency p50 {run['latency']['p50_ms']:.1f} ms, p99 {run['latency']['p99_ms']:.1f} ms")
    flush(r)
    return run


def phase_ceiling(args, url: str, r: redis.Redis, logf) -> dict:
    """Redis ceiling of relay's claim and ack scripts (``python -m systems.relay ceiling``)."""
    flush(r)
    jobs = args.ceiling_jobs
    res = run_adapter("relay", ["ceiling", "--batches", args.ceiling_batches, "--jobs", str(jobs), "--redis", url],
                      url, 120 + jobs / 100, logf)
    flush(r)
    return res


def fmt(v) -> str:
    return "-" if v is None else f"{v:.0f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--systems", help="comma-separated adapter names (default: all in systems/)")
    ap.add_argument("--skip", default="", help="comma-separated adapter names to leave out")
    ap.add_argument("--jobs", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="CI smoke preset: --jobs 2000 --runs 1 --latency-samples 50")
    ap.add_argument("--batch", type=int, default=1000, help="jobs per bulk-enqueue call")
    ap.add_argument("--latency-samples", type=int, default=200)
    ap.add_argument("--gap-ms", type=float, default=50.0, help="max random idle gap between latency probes")
    ap.add_argument("--enqueue-timeout", type=float, help="seconds (default 60 + jobs/100)")
    ap.add_argument("--drain-timeout", type=float, help="seconds (default 60 + jobs/40)")
    ap.add_argument("--latency-timeout", type=float, help="seconds (default 60 + 2 * samples)")
    ap.add_argument("--drain-same-tuned", action="store_true",
                    help="also drain at 'tuned' for systems whose tuned == default")
    ap.add_argument("--redis-server", default=shutil.which("redis-server") or "/usr/bin/redis-server")
    ap.add_argument("--out", default=str(RESULTS / "latest.json"))
    ap.add_argument("--markdown", default=None, help="also write a markdown table here (default: <out>.md)")
    ap.add_argument("--count", choices=["batched", "per-job"], default="batched",
                    help="how handlers count completions: in memory, flushed every 2 ms with one "
                    "INCRBY (default), or one INCR race:done per job")
    ap.add_argument("--shuffle", action="store_true", help="randomize system order within each run")
    ap.add_argument("--ceiling-batches", default="1,10,100,1000",
                    help="batch sizes of the Redis ceiling of relay's claim/ack scripts, measured at the end "
                    "of every run when relay is raced ('' = skip it)")
    ap.add_argument("--ceiling-jobs", type=int, default=20_000, help="jobs per ceiling batch size")
    args = ap.parse_args(argv)
    if args.quick:
        args.jobs, args.runs = 2000, 1
        if args.latency_samples == 200:
            args.latency_samples = 50

    global COUNT_MODE
    COUNT_MODE = args.count

    all_names = discover()
    names = [s.strip() for s in args.systems.split(",")] if args.systems else all_names
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    names = [n for n in names if n not in skip]
    unknown = [n for n in names if n not in all_names]
    if unknown:
        ap.error(f"unknown systems {unknown}; have {all_names}")

    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    log_dir = out_path.parent / "logs"
    log_dir.mkdir(exist_ok=True)

    server = RedisServer(args.redis_server)
    url = server.start()
    r = redis.Redis.from_url(url)
    log(f"redis {server.version()} on {url} (pid {server.proc.pid})")
    results: dict[str, Any] = {
        "meta": {
            "started": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "jobs": args.jobs,
            "runs": args.runs,
            "latency_samples": args.latency_samples,
            "bulk_batch": args.batch,
            "payload_bytes": 100,
            "count_mode": args.count,
            "ceiling_batches": args.ceiling_batches,
            "ceiling_jobs": args.ceiling_jobs,
            "redis_version": server.version(),
            "host": {
                "cpus": os.cpu_count(),
                "mem_gib": round(psutil.virtual_memory().total / 2**30, 1),
                "platform": platform.platform(),
                "cpu": _cpu_model(),
                "python": platform.python_version(),
            },
            "argv": sys.argv[1:] if argv is None else argv,
        },
        "systems": {},
    }
    try:
        infos = {}
        for n in names:
            infos[n] = get_info(n, url)
            if not infos[n].get("available"):
                log(f"{n}: NOT AVAILABLE: {infos[n].get('error')}")
            results["systems"][n] = {"info": infos[n], "runs": [], "median": {}}
        active = [n for n in names if infos[n].get("available")]
        for run_i in range(args.runs):
            order = list(active)
            if args.shuffle:
                random.shuffle(order)
            for n in order:
                log(f"run {run_i + 1}/{args.runs}: {n}")
                with open(log_dir / f"{n}.log", "a") as logf:
                    logf.write(f"\n===== run {run_i + 1} =====\n")
                    t0 = time.monotonic()
                    run = one_run(n, infos[n], args, url, r, logf)
                    run["wall_s"] = time.monotonic() - t0
                entry = results["systems"][n]
                entry["runs"].append(run)
                entry["median"] = summarize(entry["runs"])
                write_json(out_path, results)
            if "relay" in active and args.ceiling_batches.strip():
                run_ceiling(run_i, args, url, r, log_dir, results)
                write_json(out_path, results)
            if args.latency_samples > 0:
                run_floor(run_i, args, url, r, log_dir, results)
                write_json(out_path, results)
        results["meta"]["finished"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        write_json(out_path, results)
    finally:
        r.close()
        server.stop()

    from render import render_markdown

    md_path = Path(args.markdown) if args.markdown else out_path.with_suffix(".md")
    md_path.write_text(render_markdown(results))
    log(f"wrote {out_path} and {md_path}")
    print(md_path.read_text())
    return 0


def run_floor(run_i: int, args, url: str, r: redis.Redis, log_dir: Path, results: dict) -> None:
    """The machine's latency floor (floor.py: one RPUSH wakes a BLPOP in another process), with
    the latency phase's gaps and sample count; a failure is recorded, never raised."""
    floor = results.setdefault("floor", {"runs": [], "median": {}})
    flush(r)
    with open(log_dir / "floor.log", "a") as logf:
        cmd = [sys.executable, str(HERE / "floor.py"), "--redis", url, "--samples", str(args.latency_samples),
               "--gap-ms", str(args.gap_ms)]
        try:
            out = subprocess.run(cmd, cwd=HERE, env=child_env(url), capture_output=True, text=True, timeout=120)
            logf.write(out.stdout + out.stderr)
            lat = sorted(parse_result(out.stdout)["latencies_s"])
            res = {"samples": len(lat), "p50_ms": pct(lat, 50) * 1000, "p99_ms": pct(lat, 99) * 1000}
            log(f"run {run_i + 1}/{args.runs}: latency floor (RPUSH -> BLPOP between two processes) "
                f"p50 {res['p50_ms']:.2f} ms, p99 {res['p99_ms']:.2f} ms")
        except Exception as exc:
            res = {"error": f"floor: {exc}"}
            log(f"  latency floor FAILED: {exc}")
    floor["runs"].append(res)
    ok = [x for x in floor["runs"] if "p50_ms" in x]
    if ok:
        floor["median"] = {k: statistics.median(x[k] for x in ok) for k in ("p50_ms", "p99_ms")}


def run_ceiling(run_i: int, args, url: str, r: redis.Redis, log_dir: Path, results: dict) -> None:
    """Measure the ceiling once more; a failure is recorded, never raised."""
    log(f"run {run_i + 1}/{args.runs}: Redis ceiling of relay's claim/ack scripts")
    ceiling = results.setdefault("ceiling", {"runs": [], "median": {}})
    with open(log_dir / "relay.log", "a") as logf:
        logf.write(f"\n===== run {run_i + 1}: ceiling =====\n")
        try:
            res = phase_ceiling(args, url, r, logf)
        except Exception as exc:
            res = {"error": f"ceiling: {exc}"}
            log(f"  relay ceiling FAILED: {exc}")
    res["run"] = run_i + 1
    ceiling["runs"].append(res)
    for b, c in (res.get("batches") or {}).items():
        if "error" in c:
            log(f"  ceiling batch {b} FAILED: {c['error']}")
        else:
            log(f"  ceiling batch {b}: claim {fmt(c['claim_jobs_per_s'])}, ack {fmt(c['ack_jobs_per_s'])}, "
                f"claim+ack {fmt(c['claim_ack_jobs_per_s'])} jobs/s")
    results["ceiling"] = ceiling_summary(ceiling["runs"], results["systems"].get("relay"))
    frac = results["ceiling"].get("relay_drain_fraction")
    if frac:
        best = results["ceiling"]["best"]
        log(f"  relay drain tuned / default = {frac['tuned'] or 0:.0%} / {frac['default'] or 0:.0%} of the best "
            f"claim+ack median ({fmt(best['claim_ack_jobs_per_s'])} jobs/s at batch {best['batch']})")


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def write_json(path: Path, obj: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=1, sort_keys=False) + "\n")
    tmp.replace(path)


if __name__ == "__main__":
    sys.exit(main())
