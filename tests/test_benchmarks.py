"""The benchmarks under benchmarks/ are not run by the suite (they take minutes and want an
idle machine), so a change that removes or renames something of accord that a benchmark
uses went unnoticed until someone ran it (the image benchmark called a removed helper for
a session). mypy finds such references without running anything."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmarks_use_only_names_that_exist():
    scripts = sorted(str(p) for p in (ROOT / "benchmarks").glob("*.py"))
    assert len(scripts) >= 10
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "--follow-imports=silent", *scripts],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "error: " in run.stdout or run.returncode == 0, run.stderr  # mypy ran
    missing = [
        line
        for line in run.stdout.splitlines()
        if "[name-defined]" in line or ("Module" in line and "has no attribute" in line)
    ]
    assert missing == []
