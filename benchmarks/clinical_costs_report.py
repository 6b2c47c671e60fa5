"""Tables, notes, machine description and plot for `benchmarks.clinical_costs`.

Kept apart from the measuring so that what is measured and how it is shown can be read
separately. Every function here formats numbers it is given; none measures anything but the
machine's description.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure
from rich.table import Table

from shared.atomic import atomic_path

OVERHEAD_TARGET_PERCENT = 5.0
# Below this CPU share, other work held the cores for part of the timed steps.
BUSY_CPU_SHARE = 0.8

Rows = tuple[list[str], list[list[str]]]


def cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine skews every timing."""
    with contextlib.suppress(OSError, AttributeError):
        return " / ".join(f"{load:.2f}" for load in os.getloadavg())
    return "unknown"


def describe_machine() -> dict[str, Any]:
    return {
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU",
        "cpu": f"{cpu_name()} ({os.cpu_count()} logical cores)",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "load average at start (1/5/15 min)": load_average(),
    }


def method_table(methods: list[dict[str, Any]]) -> Rows:
    headers = [
        "method",
        "trainable",
        "trainable %",
        "peak increase MiB",
        "peak MiB",
        "median step ms",
        "IQR ms",
        "samples/s",
        "CPU share",
    ]
    rows = [
        [
            result["method"],
            f"{result['trainable_parameters']:,}",
            f"{100 * result['trainable_parameters'] / result['total_parameters']:.2f}",
            f"{result['peak_increase_mib']:,.0f}",
            f"{result['peak_memory_mib']:,.0f}",
            f"{result['median_ms']:,.1f}",
            f"{result['iqr_ms']:,.1f}",
            f"{result['samples_per_second']:,.1f}",
            f"{result['cpu_share']:.2f}",
        ]
        for result in methods
    ]
    return headers, rows


def overhead_table(overhead: dict[str, Any]) -> Rows:
    headers = ["loop", "median step ms", "IQR ms", "steps timed", "CPU share"]
    names = {"suite": "suite (Lightning + PeftClassifier)", "hand": "hand-written torch + peft"}
    rows = [
        [
            name,
            f"{timing['median_ms']:,.1f}",
            f"{timing['iqr_ms']:,.1f}",
            str(timing["steps"]),
            f"{timing['cpu_share']:.2f}",
        ]
        for name, timing in ((name, overhead[key]) for key, name in names.items())
    ]
    return headers, rows


def verdict(overhead: dict[str, Any]) -> str:
    passed = overhead["overhead_percent"] < OVERHEAD_TARGET_PERCENT
    outcome = "PASS" if passed else "FAIL"
    extra_ms = overhead["suite"]["median_ms"] - overhead["hand"]["median_ms"]
    line = (
        f"suite loop overhead: {overhead['overhead_percent']:+.2f}% ({extra_ms:+.1f} ms per step; "
        f"target < {OVERHEAD_TARGET_PERCENT:g}%): {outcome}"
    )
    share = min(overhead["suite"]["cpu_share"], overhead["hand"]["cpu_share"])
    if overhead["device"] == "cpu" and share < BUSY_CPU_SHARE:
        line += (
            f". Unreliable: the machine was busy (CPU share {share:.2f} < {BUSY_CPU_SHARE:g}); "
            "run again when it is idle"
        )
    return line


def busy_warning(methods: list[dict[str, Any]]) -> str | None:
    """A warning naming the methods timed while other work held the CPU, if any were."""
    busy = [
        f"{result['method']} ({result['cpu_share']:.2f})"
        for result in methods
        if result["device"] == "cpu" and result["cpu_share"] < BUSY_CPU_SHARE
    ]
    if not busy:
        return None
    return (
        f"Busy machine: {', '.join(busy)} ran with a CPU share below {BUSY_CPU_SHARE:g}, so "
        "their step times and throughput are not comparable with the others'; run again when "
        "the machine is idle."
    )


def measurement_notes(
    arguments: argparse.Namespace, memory_kind: str, overhead_method: str
) -> list[str]:
    memory = (
        "peak MiB = `torch.cuda.max_memory_allocated` in the method's own subprocess; peak "
        "increase = that minus the CUDA memory allocated just before the model was built"
        if memory_kind == "cuda_max_allocated"
        else "peak MiB = peak RSS (`ru_maxrss`) of the method's own fresh subprocess, imports "
        "included; peak increase = that minus the RSS just before the model was built (data "
        "already loaded and tokenised)"
    )
    return [
        f"Memory: {memory}.",
        "Step: forward + loss + backward + AdamW step + zero_grad on real tokenised training "
        f"batches of {arguments.dataset} (batch {arguments.batch_size}, padded per batch to at "
        f"most {arguments.max_length} tokens, the same batches in the same order for every "
        f"method); {arguments.warmup} warmup steps excluded, {arguments.steps} timed; IQR = "
        "interquartile range of the timed steps; samples/s = batch size / median step.",
        "CPU share: the process's CPU time over wall time times torch's thread count, over the "
        "timed steps; near 1 when the run had the cores to itself, lower when other work took "
        f"them (below {BUSY_CPU_SHARE:g} the timings say more about that work than about the "
        "method). On CUDA it only shows how busy the host thread was.",
        f"Overhead: two identical {overhead_method} models (same seed), one fixed batch, same "
        "AdamW; per-step time = from one batch start to the next (everything per step counts, "
        f"Trainer setup does not); each loop runs {arguments.repeats} blocks of "
        f"{arguments.block_steps} timed steps, interleaved with the other loop's and alternating "
        f"which goes first; {arguments.warmup} warmup steps dropped from the first block, the "
        "first step from each later one; overhead = suite median / hand median - 1.",
    ]


def rich_table(title: str, headers: list[str], rows: list[list[str]]) -> Table:
    table = Table(title=title)
    for index, header in enumerate(headers):
        table.add_column(header, justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*row)
    return table


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    alignment = "|---|" + "---:|" * (len(headers) - 1)
    lines = ["| " + " | ".join(headers) + " |", alignment]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def markdown_report(
    command: str,
    arguments: argparse.Namespace,
    machine: dict[str, Any],
    methods: list[dict[str, Any]],
    overhead: dict[str, Any],
) -> str:
    machine_lines = [f"- {key}: {value}" for key, value in machine.items()]
    notes = measurement_notes(arguments, methods[0]["memory_kind"], overhead["method"])
    warning = busy_warning(methods)
    sections = [
        f"# Clinical text costs: MiniLM on {arguments.dataset}",
        f"Written by `{command}`; every number below was measured in that run.",
        "\n".join(machine_lines),
        "## Cost per method",
        markdown_table(*method_table(methods)),
        f"**{warning}**" if warning else None,
        "## Suite training loop against a hand-written loop",
        markdown_table(*overhead_table(overhead)),
        f"**{verdict(overhead)}**",
        "## What was measured",
        "\n".join(f"- {note}" for note in notes),
    ]
    return "\n\n".join(section for section in sections if section)


def quartile_bars(axes, names: list[str], timings: list[dict[str, float]], title: str) -> None:
    """Bars at the median step time, whiskers from the first to the third quartile."""
    medians = [timing["median_ms"] for timing in timings]
    below = [timing["median_ms"] - timing["q1_ms"] for timing in timings]
    above = [timing["q3_ms"] - timing["median_ms"] for timing in timings]
    axes.bar(names, medians, yerr=[below, above], capsize=4)
    axes.set(title=title, ylabel="ms per step (median, whiskers: quartiles)")


def plot(methods: list[dict[str, Any]], overhead: dict[str, Any], path: Path) -> None:
    """Step time and peak memory increase per method, and the two loops' step times."""
    names = [result["method"] for result in methods]
    figure = Figure(figsize=(14, 4.5), layout="tight")
    steps, memory, loops = figure.subplots(1, 3)
    quartile_bars(steps, names, methods, "step time per method")
    memory.bar(names, [result["peak_increase_mib"] for result in methods])
    memory.set(title=f"peak memory increase ({methods[0]['memory_kind']})", ylabel="MiB")
    loop_title = f"{overhead['method']} loops: overhead {overhead['overhead_percent']:+.1f}%"
    quartile_bars(loops, ["suite", "hand"], [overhead["suite"], overhead["hand"]], loop_title)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=120)
