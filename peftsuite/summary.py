"""The few numbers a person wants at the end of a run, read back from its metrics.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def scalar_metrics(metrics: dict[str, Any], limit: int = 4) -> str:
    values = [f"{k} {v:.3f}" for k, v in metrics.items() if isinstance(v, float)][:limit]
    return ", ".join(values) or "-"


def print_summary(directory: Path, console: Console | None = None) -> None:
    results = json.loads((Path(directory) / "metrics.json").read_text())
    costs = results["costs"]
    table = Table(title=f"{results.get('pipeline', '')} run: {Path(directory).name}", box=None)
    table.add_column("", style="bold")
    table.add_column("")
    table.add_row("test (in domain)", scalar_metrics(results["test"]))
    for name, metrics in results.get("cross_domain", {}).items():
        table.add_row(f"test on {name}", scalar_metrics(metrics))
    for name, metrics in results.get("baselines", {}).items():
        table.add_row(f"baseline {name}", scalar_metrics(metrics))
    table.add_row(
        "trainable",
        f"{costs['trainable_parameters']:,} of {costs['total_parameters']:,} "
        f"({100 * costs['trainable_fraction']:.2f}%), adapter {costs['adapter_bytes']:,} bytes",
    )
    table.add_row(
        "training",
        f"{costs['train_seconds']:.1f} s, {costs['train_samples']} examples, "
        f"peak {costs['peak_memory_mb']:.0f} MiB ({costs['peak_memory_kind']})",
    )
    if results.get("stack"):
        stack, proof = results["stack"], results["stack"]["proof"]
        passed = "passed" if "task_member_active" in proof else "not run (no training step)"
        table.add_row("stack", f"{len(stack['members'])} domain adapter(s); proof {passed}")
    (console or Console()).print(table)
