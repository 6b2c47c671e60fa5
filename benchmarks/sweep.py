"""Run the suite itself once per benchmark configuration, each in a fresh process.

A fresh process per run keeps each run's peak memory its own; the runner skips a run whose
metrics.json exists, so an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def run_suite(overrides: list[str]) -> Path:
    """`peftsuite run <overrides>` in a subprocess; returns the run directory it printed."""
    command = [sys.executable, "-m", "peftsuite.cli", "run", *overrides]
    result = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    if result.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


def read_metrics(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "metrics.json").read_text())
