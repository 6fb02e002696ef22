"""T10: libFuzzer (cargo-fuzz) on the Rust codec's decoders: no crash, panic or timeout.

The targets are rust/fuzz/fuzz_targets/{decode,decode_claim}.rs; this runs tests/chaos/fuzz.sh,
30 s per target in the quick profile, 150 s under RELAY_CHAOS_LONG=1 (5 minutes in all).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.chaos.harness import ROOT, record_figures, size

SECONDS = size(30, 150)
SCRIPT = Path(__file__).with_name("fuzz.sh")


def _nightly_with_cargo_fuzz() -> bool:
    cargo = shutil.which("cargo") or str(Path.home() / ".cargo/bin/cargo")
    try:
        out = subprocess.run(
            [cargo, "+nightly", "fuzz", "--version"], check=False, capture_output=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0


@pytest.mark.timeout(SECONDS * 2 + 900)  # a fresh clone builds the targets first
def test_t10_codec_fuzzing_finds_no_crash() -> None:
    if not _nightly_with_cargo_fuzz():
        pytest.skip("needs a nightly Rust toolchain with cargo-fuzz (rustup, cargo install)")
    proc = subprocess.run(
        ["bash", str(SCRIPT), str(SECONDS)], check=False, capture_output=True, text=True, cwd=ROOT
    )
    out = proc.stdout + proc.stderr
    runs = [int(n) for n in re.findall(r"stat::number_of_executed_units:\s+(\d+)", out)]
    figures = {
        "seconds_per_target": SECONDS,
        "targets": ["decode", "decode_claim"],
        "executions": runs,
        "crashes": len(re.findall(r"==\d+== ERROR: libFuzzer|panicked at", out)),
        "exit_code": proc.returncode,
    }
    record_figures("T10", figures)
    assert proc.returncode == 0 and len(runs) == 2, out[-4000:]
