#!/usr/bin/env python3
"""Render race results (results/latest.json) as a markdown table.

    python render.py [results/latest.json] [-o results/latest.md]
    python render.py results/a.json results/b.json --merged-json results/latest.json -o results/latest.md

From other code (e.g. the relay docs generator writing docs/benchmarks.md)::

    sys.path.insert(0, "benches/peers"); from render import render_markdown, write_markdown
    write_markdown("benches/peers/results/latest.json", "docs/benchmarks.md", title="Benchmarks")

Only the standard library is used, so any Python 3.9+ can import it.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

DISPLAY = {
    "relay": "relay",
    "bullmq_node": "BullMQ (Node)",
    "bullmq_py": "bullmq (Python port)",
    "dramatiq": "Dramatiq",
    "arq": "arq",
    "saq": "SAQ",
    "celery": "Celery",
    "taskiq_redis": "taskiq-redis",
    "rq": "RQ (SimpleWorker)",
}


METRICS = {
    "enqueue_single_jobs_per_s": ("enqueue_single", "jobs_per_s"),
    "enqueue_bulk_jobs_per_s": ("enqueue_bulk", "jobs_per_s"),
    "redis_bytes_per_job": ("enqueue_single", "redis_bytes_per_job"),
    "redis_bytes_per_job_bulk": ("enqueue_bulk", "redis_bytes_per_job"),
    "drain_default_jobs_per_s": ("drain_default", "jobs_per_s"),
    "drain_tuned_jobs_per_s": ("drain_tuned", "jobs_per_s"),
    "drain_default_startup_s": ("drain_default", "startup_s"),
    "rss_default_bytes": ("drain_default", "peak_rss_bytes"),
    "rss_tuned_bytes": ("drain_tuned", "peak_rss_bytes"),
    "latency_p50_ms": ("latency", "p50_ms"),
    "latency_p99_ms": ("latency", "p99_ms"),
}


def summarize(runs: list[dict]) -> dict:
    med: dict[str, Any] = {}
    for metric, (phase, field) in METRICS.items():
        vals = []
        for run in runs:
            ph = run.get(phase) or {}
            v = ph.get(field)
            # a drain that did not finish is reported separately, not in the median
            if v is not None and not ph.get("partial"):
                vals.append(v)
        med[metric] = statistics.median(vals) if vals else None
        med[metric + "_n"] = len(vals)
    partial = [run[p] for run in runs for p in ("drain_default", "drain_tuned") if (run.get(p) or {}).get("partial")]
    if partial:
        med["partial_drains"] = [{"spec": d["spec"], "status": d["status"], "jobs_per_s": d.get("jobs_per_s")}
                                 for d in partial]
    return med


CEILING_FIELDS = ("claim_jobs_per_s", "ack_jobs_per_s", "claim_ack_jobs_per_s")


def ceiling_summary(runs: list[dict], relay_entry: dict | None = None) -> dict:
    """The ``ceiling`` section of the results: the runs of ``python -m systems.relay ceiling``,
    medians per batch size, the best claim+ack median and relay's drain medians as a fraction
    of it."""
    per_batch: dict[str, dict[str, list[float]]] = {}
    for run in runs:
        for b, c in (run.get("batches") or {}).items():
            for f in CEILING_FIELDS:
                if c.get(f) is not None:
                    per_batch.setdefault(b, {}).setdefault(f, []).append(c[f])
    median = {
        b: {**{f: statistics.median(v) for f, v in fields.items()},
            "n": max(len(v) for v in fields.values())}
        for b, fields in sorted(per_batch.items(), key=lambda kv: int(kv[0]))
    }
    out: dict[str, Any] = {"runs": runs, "median": median}
    combined = [(m["claim_ack_jobs_per_s"], b) for b, m in median.items() if m.get("claim_ack_jobs_per_s")]
    if combined:
        best, batch = max(combined)
        out["best"] = {"batch": int(batch), "claim_ack_jobs_per_s": best}
        med = (relay_entry or {}).get("median") or {}
        drains = {spec: med.get(f"drain_{spec}_jobs_per_s") for spec in ("default", "tuned")}
        out["relay_drain_fraction"] = {spec: v / best if v else None for spec, v in drains.items()}
    return out


def _pct(v: Any) -> str:
    return "–" if v is None else f"{v * 100:.0f}%"


def _ceiling_lines(results: dict) -> list[str]:
    ceiling = results.get("ceiling") or {}
    if ceiling.get("runs"):  # recomputed, so that a hand-edited or merged file stays consistent
        ceiling = ceiling_summary(ceiling["runs"], (results.get("systems") or {}).get("relay"))
    median = ceiling.get("median") or {}
    errors = [run["error"] for run in ceiling.get("runs", []) if run.get("error")]
    errors += [f"batch {b}: {c['error']}" for run in ceiling.get("runs", [])
               for b, c in (run.get("batches") or {}).items() if c.get("error")]
    if not median and not errors:
        return []
    runs = [run for run in ceiling.get("runs", []) if run.get("batches")]
    jobs = runs[0].get("jobs") if runs else None
    if not median:
        return ["Redis ceiling of relay's claim and ack scripts: not measured (" + "; ".join(errors)[:400] + ")", ""]
    lines = [
        "Redis ceiling of relay's own claim and ack scripts, measured in the same run (after every run, "
        "on the same Redis, no worker): per batch size B, "
        + (f"{jobs:,} jobs (rounded up to whole pipelines) " if jobs else "N jobs ")
        + "are claimed by `redis-benchmark -c 1 -P 16` running EVALSHA of the claim script (B jobs per "
        "call), then acked by pre-built EVALSHA ack calls of B (id, token) pairs sent over one connection, "
        "16 in flight; claim+ack = 1 / (1/claim + 1/ack), the rate Redis sustains doing both. "
        f"Median of {len(runs)} run(s).",
        "",
        "| Batch (jobs per call) | Claim (jobs/s) | Ack (jobs/s) | Claim+ack (jobs/s) |",
        "|---:|---:|---:|---:|",
    ]
    for b, m in median.items():
        lines.append(f"| {b} | {_n(m.get('claim_jobs_per_s'))} | {_n(m.get('ack_jobs_per_s'))} | "
                     f"{_n(m.get('claim_ack_jobs_per_s'))} |")
    lines.append("")
    frac, best = ceiling.get("relay_drain_fraction"), ceiling.get("best")
    if frac and best:
        lines += [
            f"relay's drain (tuned / default) = {_pct(frac.get('tuned'))} / {_pct(frac.get('default'))} of the "
            f"best claim+ack ceiling ({_n(best['claim_ack_jobs_per_s'])} jobs/s at batch {best['batch']})"
            + ("; above 100% the drain was too short to compare (a job counts as done when its handler "
               "returns, before its ack; use more --jobs)." if max(v or 0 for v in frac.values()) > 1 else "."),
            "",
        ]
    if errors:
        lines += ["Ceiling runs that failed: " + "; ".join(sorted(set(errors)))[:400], ""]
    return lines


def _floor_lines(results: dict) -> list[str]:
    runs = [x for x in (results.get("floor") or {}).get("runs", []) if "p50_ms" in x]
    if not runs:
        return []
    p50 = statistics.median(x["p50_ms"] for x in runs)
    p99 = statistics.median(x["p99_ms"] for x in runs)
    return [
        f"Latency floor of this machine, measured in the same run: one `RPUSH` from one process wakes a "
        f"`BLPOP` in another, after the latency phase's idle gaps: p50 {p50:.2f} ms, p99 {p99:.2f} ms "
        f"(median of {len(runs)} run(s), `floor.py`). No queue can start a job sooner after an idle spell "
        "than Redis can hand one value from one process to another.",
        "",
    ]


def _n(v: Any, digits: int = 0) -> str:
    if v is None:
        return "–"
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def _mib(v: Any) -> str:
    return "–" if v is None else f"{v / 2**20:,.0f}"


def _version(info: dict) -> str:
    vs = info.get("versions") or {}
    pkgs = info.get("packages") or []
    main = pkgs[0] if pkgs else None
    if main and main in vs:
        return vs[main]
    if "bullmq" in vs:  # node adapter
        return vs["bullmq"]
    return "?"


def _partial_note(med: dict) -> str:
    parts = []
    for d in med.get("partial_drains") or []:
        rate = d.get("jobs_per_s")
        parts.append(f"{d['spec']} drain incomplete ({d['status']}{', ~' + _n(rate) + '/s' if rate else ''})")
    return "; ".join(parts)


def render_markdown(results: dict, title: str | None = "Race: Redis job queues side by side",
                    include_settings: bool = True) -> str:
    """Return a markdown document (table + settings + method notes) for ``results``."""
    meta = results.get("meta", {})
    systems = results.get("systems", {})
    host = meta.get("host", {})
    lines: list[str] = []
    if title:
        lines += [f"## {title}", ""]
    runs_desc = (f"median of {meta.get('runs', '?')} run(s)" if not meta.get("merged_from")
                 else "median of the runs given per system (merged from several invocations)")
    lines.append(
        f"{meta.get('jobs', '?'):,} no-op jobs (~{meta.get('payload_bytes', 100)}-byte payload) per phase, "
        f"{runs_desc}; one worker process per system; "
        f"Redis {meta.get('redis_version', '?')} on 127.0.0.1 (no persistence); "
        f"{host.get('cpus', '?')} CPUs ({host.get('cpu', '?')}), {host.get('mem_gib', '?')} GiB; "
        f"run started {meta.get('started', '?')}."
    )
    loads = [run.get("loadavg_1m_start") for e in systems.values() for run in e.get("runs", [])]
    loads = [x for x in loads if x is not None]
    if loads:
        lines[-1] += (f" Host 1-min load average at the start of each system's run: "
                      f"{min(loads):.1f}–{max(loads):.1f} (other work on the machine skews figures when it "
                      f"exceeds the CPU count).")
    lines.append("")
    hdr = [
        "System", "Version", "Runs", "Enqueue single (jobs/s)", "Enqueue bulk (jobs/s)",
        "Drain default (jobs/s)", "Drain tuned (jobs/s)", "Worker peak RSS default / tuned (MiB)",
        "Redis bytes/job", "Latency p50 / p99 (ms)",
    ]
    lines.append("| " + " | ".join(hdr) + " |")
    lines.append("|" + "|".join(["---", "---"] + ["---:"] * (len(hdr) - 2)) + "|")

    def sort_key(item):
        med = item[1].get("median") or {}
        best = max(med.get("drain_default_jobs_per_s") or 0, med.get("drain_tuned_jobs_per_s") or 0)
        return -best

    notes = []
    for name, entry in sorted(systems.items(), key=sort_key):
        info = entry.get("info", {})
        med = entry.get("median") or {}
        disp = DISPLAY.get(name, info.get("name", name))
        if not info.get("available"):
            lines.append(f"| {disp} | – | not available: {str(info.get('error', ''))[:80]} |" + " |" * (len(hdr) - 3))
            continue
        tuned_same = info.get("tuned_same_as_default")
        row = [
            f"**{disp}**" if name == "relay" else disp,
            _version(info),
            str(len(entry.get("runs", []))),
            _n(med.get("enqueue_single_jobs_per_s")),
            _n(med.get("enqueue_bulk_jobs_per_s")) if info.get("bulk") else "n/a",
            _n(med.get("drain_default_jobs_per_s")),
            "= default" if tuned_same else _n(med.get("drain_tuned_jobs_per_s")),
            f"{_mib(med.get('rss_default_bytes'))} / " + ("=" if tuned_same else _mib(med.get("rss_tuned_bytes"))),
            _n(med.get("redis_bytes_per_job")),
            f"{_n(med.get('latency_p50_ms'), 1)} / {_n(med.get('latency_p99_ms'), 1)}",
        ]
        lines.append("| " + " | ".join(row) + " |")
        pn = _partial_note(med)
        errs = sorted({e for run in entry.get("runs", []) for e in run.get("errors", [])})
        if pn or errs:
            notes.append(f"- {disp}: " + "; ".join(filter(None, [pn, *errs]))[:400])
    lines.append("")
    if notes:
        lines += ["Problems during the run:", "", *notes, ""]
    lines += _ceiling_lines(results)
    lines += _floor_lines(results)

    if include_settings:
        lines += ["Worker settings (default = the system's own default; tuned = its documented knob for "
                  "I/O-bound work):", ""]
        lines.append("| System | Default | Tuned | Notes |")
        lines.append("|---|---|---|---|")
        for name, entry in systems.items():
            info = entry.get("info", {})
            if not info.get("available"):
                continue
            vs = ", ".join(f"{k} {v}" for k, v in (info.get("versions") or {}).items())
            lines.append(
                f"| {DISPLAY.get(name, name)} | {info.get('default', '')} | {info.get('tuned', '')} | "
                f"{info.get('notes', '')}; {vs} |"
            )
        lines.append("")
        if meta.get("count_mode", "per-job") == "per-job":
            counting = "every job's handler does one `INCR race:done` (same cost for every system); "
        else:
            counting = (
                "every job's handler counts itself done in process memory and a thread of the worker "
                "process adds the count to `race:done` every 2 ms with one INCRBY (the same for every "
                "system; `--count per-job` makes it one INCR per job); "
            )
        lines += [
            "How it is measured: " + counting +
            "drain jobs/s counts from the first observed completion to `race:done` = N (worker start-up "
            "excluded). Enqueue is timed inside the client process, one call per job awaited in sequence "
            "(bulk: batches of "
            f"{meta.get('bulk_batch', 1000)}). Redis bytes/job = Δ`used_memory` over the single-job enqueue of "
            "N jobs / N, after FLUSHALL. Peak RSS = sum of VmHWM over the worker's process tree. "
            "Latency = handler start − time before the enqueue call, one job at a time on an idle queue "
            f"({meta.get('latency_samples', '?')} samples, default worker settings).",
            "",
        ]
    return "\n".join(lines)


def merge_results(parts: list[dict]) -> dict:
    """Combine results of several race.py invocations (same --jobs) into one
    document; the runs of a system present in several parts are pooled and its
    medians recomputed."""
    if not parts:
        raise ValueError("nothing to merge")
    jobs = {p.get("meta", {}).get("jobs") for p in parts}
    if len(jobs) != 1:
        raise ValueError(f"cannot merge results with different --jobs: {sorted(map(str, jobs))}")
    meta = dict(parts[0].get("meta", {}))
    meta["merged_from"] = [
        {"started": p["meta"].get("started"), "runs": p["meta"].get("runs"), "systems": list(p.get("systems", {}))}
        for p in parts
    ]
    meta["runs"] = None
    systems: dict = {}
    for p in parts:
        for name, entry in p.get("systems", {}).items():
            if name in systems:
                runs = systems[name]["runs"] + entry.get("runs", [])
                systems[name] = {**entry, "runs": runs, "median": summarize(runs)}
            else:
                systems[name] = dict(entry)
    merged: dict[str, Any] = {"meta": meta, "systems": systems}
    floor_runs = [run for p in parts for run in (p.get("floor") or {}).get("runs", [])]
    if floor_runs:
        merged["floor"] = {"runs": floor_runs}
    ceiling_runs = [run for p in parts for run in (p.get("ceiling") or {}).get("runs", [])]
    if ceiling_runs:
        merged["ceiling"] = ceiling_summary(ceiling_runs, systems.get("relay"))
    return merged


def write_markdown(results_json: str | Path, out_md: str | Path, **kw) -> str:
    results = json.loads(Path(results_json).read_text())
    md = render_markdown(results, **kw)
    Path(out_md).write_text(md)
    return md


BEGIN, END = "<!-- race:begin -->", "<!-- race:end -->"


def write_into(doc: Path, md: str, command: str, sources: list[str]) -> None:
    """Put the rendered race between the BEGIN/END marker lines of `doc` (written by make race;
    the rest of the document is prose kept by hand)."""
    text = doc.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{doc}: no '{BEGIN}' ... '{END}' lines to write the race between")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    body = md.strip().split("\n")
    if body and body[0].startswith("#"):
        body = body[1:]  # the document has its own heading
    block = (
        f"{BEGIN}\n<!-- written by `{command}` (benches/peers/render.py --into); edits here are lost -->\n\n"
        f"Command: `{command}`. Raw results: " + ", ".join(f"`{s}`" for s in sources) + ".\n\n"
        + "\n".join(body).strip() + f"\n\n{END}"
    )
    doc.write_text(head + block + tail)


def main() -> None:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description="Render race results as markdown")
    ap.add_argument("results", nargs="*", default=[str(here / "results" / "latest.json")],
                    help="one results JSON, or several to merge (see --merged-json)")
    ap.add_argument("-o", "--out", help="write the markdown here (default: print)")
    ap.add_argument("--merged-json", help="with several inputs: also write the merged JSON here")
    ap.add_argument("--title", default="Race: Redis job queues side by side")
    ap.add_argument("--into", help="replace the part of this markdown file between the lines "
                    "'<!-- race:begin -->' and '<!-- race:end -->' (kept) with the table")
    ap.add_argument("--command", default="make race",
                    help="with --into: the command to name above the table")
    a = ap.parse_args()
    parts = [json.loads(Path(f).read_text()) for f in a.results]
    results = parts[0] if len(parts) == 1 else merge_results(parts)
    if a.merged_json:
        Path(a.merged_json).write_text(json.dumps(results, indent=1) + "\n")
    md = render_markdown(results, title=a.title)
    if a.into:
        write_into(Path(a.into), md, a.command, [str(Path(f)) for f in a.results])
        return
    if a.out:
        Path(a.out).write_text(md)
    else:
        print(md)


if __name__ == "__main__":
    main()
