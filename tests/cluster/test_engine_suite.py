"""The engine and worker suites, run unchanged against the cluster (each in a child pytest)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cluster.cluster import Cluster

ROOT = Path(__file__).resolve().parents[2]


def _run_suites(cluster: Cluster, suites: list[str]) -> None:
    for port in cluster.masters_ports():
        cluster.node(port).flushall()
    # The suites' own fixtures read RELAY_TEST_REDIS_URL, so every broker and raw client in
    # them is a cluster client: a CROSSSLOT anywhere fails the run.
    env = {**os.environ, "RELAY_TEST_REDIS_URL": cluster.url}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *suites],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, f"{' '.join(suites)} failed on the cluster:\n{out[-8000:]}"
    assert "CROSSSLOT" not in out
    assert " passed" in out


@pytest.mark.timeout(600)
def test_engine_suite_passes_on_the_cluster(healthy_cluster: Cluster) -> None:
    _run_suites(healthy_cluster, ["tests/scripts"])


@pytest.mark.timeout(600)
def test_worker_suite_passes_on_the_cluster(healthy_cluster: Cluster) -> None:
    suites = sorted(
        str(p.relative_to(ROOT)) for p in ROOT.glob("tests/integration/test_worker*.py")
    )
    if not suites:
        pytest.skip("no worker suite in tests/integration yet")
    _run_suites(healthy_cluster, suites)
