"""Another revision's relay package, to run as a benchmark's baseline in the same run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def checkout(rev: str, tmp: Path) -> Path:
    """The relay package as of `rev` (git archive), with this tree's built Rust extension (the
    Rust code must be the same at `rev`); a directory to put first on PYTHONPATH."""
    root = Path(__file__).resolve().parents[1]
    out = tmp / f"relay-{rev}"
    out.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", rev, "python/relay"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    for so in (root / "python" / "relay").glob("_core*.so"):
        shutil.copy(so, out / "python" / "relay" / so.name)
    return out / "python"
