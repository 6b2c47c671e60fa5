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


# Memory by category (`shared.memory_categories`, one steady step per method).

MEMORY_COLUMNS = [
    ("parameters_frozen", "frozen weights"),
    ("parameters_trainable", "trainable weights"),
    ("gradients", "gradients"),
    ("optimizer_state", "AdamW state"),
    ("activations", "activations"),
    ("backward_temporaries", "backward temporaries"),
    ("optimizer_temporaries", "optimizer temporaries"),
]
# Counted, but too small to need a column each: buffers, the batch, and tensors from before the
# step that nothing registered.
SMALL_CATEGORIES = ("buffers", "inputs", "other")
FLOOR_PARTS = [
    ("frozen weights", lambda peaks: peaks["parameters_frozen"]),
    ("trainable weights", lambda peaks: peaks["parameters_trainable"]),
    ("gradients", lambda peaks: peaks["parameters_trainable"]),
    ("AdamW moments", lambda peaks: 2 * peaks["parameters_trainable"]),
    ("activations", lambda peaks: peaks["activations"]),
]


def mib(value: float) -> str:
    """MiB with enough digits to tell a LoRA's gradients from nothing."""
    return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"


def memory_category_table(results: list[dict[str, Any]]) -> Rows:
    headers = [
        "method",
        "trainable",
        *(label for _, label in MEMORY_COLUMNS),
        "buffers + batch + other",
        "tracked peak",
    ]
    rows = []
    for result in results:
        memory = result["memory_by_category"]
        peaks = memory["peak_per_category"]
        rows.append(
            [
                result["method"],
                f"{result['trainable_parameters']:,}",
                *(mib(peaks[name]) for name, _ in MEMORY_COLUMNS),
                mib(sum(peaks[name] for name in SMALL_CATEGORIES)),
                mib(memory["peak"]),
            ]
        )
    return headers, rows


def floor_table(results: list[dict[str, Any]]) -> Rows:
    kind = results[0]["memory_kind"]
    measured = "CUDA max allocated" if kind == "cuda_max_allocated" else "peak RSS"
    headers = [
        "method",
        "floor",
        "tracked peak",
        "peak - floor",
        "peak / floor",
        "peak during",
        "activations at peak",
        "temporaries at peak",
        f"{measured} increase",
        "run unchanged by probe",
    ]
    rows = []
    for result in results:
        memory = result["memory_by_category"]
        at_peak = memory["at_peak"]
        temporaries = at_peak["backward_temporaries"] + at_peak["optimizer_temporaries"]
        rows.append(
            [
                result["method"],
                mib(memory["floor"]),
                mib(memory["peak"]),
                f"{memory['peak_above_floor']:+,.1f}",
                f"{memory['peak_over_floor']:.2f}",
                memory["phase_at_peak"],
                mib(at_peak["activations"]),
                mib(temporaries),
                f"{result['peak_increase_mib']:,.0f}",
                "yes" if result["run_unchanged_by_probe"] else "NO",
            ]
        )
    return headers, rows


def memory_notes(arguments: argparse.Namespace, results: list[dict[str, Any]]) -> list[str]:
    first = results[0]
    shape = " x ".join(str(size) for size in first["batch_shape"])
    device = "the GPU" if first["device"] == "cuda" else "the CPU"
    measured = (
        "CUDA max allocated increase: `torch.cuda.max_memory_allocated` over the watched fit, "
        "less the CUDA memory allocated before the model was built"
        if first["memory_kind"] == "cuda_max_allocated"
        else "Peak RSS increase: the peak RSS (`ru_maxrss`) of the method's own fresh subprocess "
        "at the end of the watched fit, less its RSS before the model was built (imports, data "
        "and tokeniser already loaded)"
    )
    timings = [
        f"{result['method']} {result['watched_step_seconds'][1]:.1f} s watched, "
        f"{result['plain_step_seconds'][1]:.1f} s not"
        for result in results
    ]
    return [
        "One training step per method: the second optimizer step (the first steady one: AdamW's "
        "moments and the previous step's gradients exist from its start, as in every later "
        "step) of the suite's own loop (`lightning.Trainer` fitting `PeftClassifier`, with "
        f"`CostTracker`) on {device}, on one real tokenised {arguments.dataset} training batch "
        f"of {shape} tokens (repeated), watched by `shared.memory_categories."
        "MemoryCategoryProbe`; each method in its own fresh subprocess.",
        "Categories (`shared.memory_categories`): every tensor storage on the device, counted "
        "once however many views or tensors share it, filed by what it is (the model's "
        "parameters, frozen or trainable, and buffers; `.grad` of trainable parameters; the "
        "optimizer's state: AdamW's exp_avg, exp_avg_sq and step) or else by when it was made "
        "(forward and loss: activations; backward, until it becomes a `.grad`: backward "
        "temporaries; inside the AdamW step: optimizer temporaries). Each column is that "
        "category's own peak over the step; the tracked peak is all categories together at "
        "their highest moment, so it is not the sum of the columns. Buffers + batch + other "
        "sums those three categories' peaks (other: tensors from before the step that nothing "
        "registered).",
        "Floor = frozen weights + trainable weights + their gradients + AdamW's two moments "
        "(4x the trainable weights in all) + the activations' peak. In the suite's loop all of "
        "it is alive at once at the end of a steady step's forward (Lightning zeroes the "
        "previous step's gradients after the forward, before the backward), so the peak cannot "
        "be lower; peak - floor is what the loop adds on top at its peak moment (the batch, "
        "buffers, AdamW's step counters, temporaries).",
        "Optimizer temporaries: on CPU `torch.optim.AdamW` updates one parameter at a time (no "
        "foreach), holding two temporaries the size of the parameter being updated (the square "
        "root of exp_avg_sq, then its quotient); for full fine-tuning the largest parameter is "
        "the 30,522 x 384 word embedding (44.7 MiB). Backward temporaries include each gradient "
        "until it is accumulated into `.grad`, and the gradients flowing between layers.",
        f"{measured}. It is the run's whole memory as `CostTracker` reports it, beside the "
        "tensor figures: it also holds what is not a tensor (Python objects, libraries, "
        "allocator slack) and what loading the model left behind.",
        "Run unchanged by probe: the same fit again without the probe ended with bit-identical "
        "weights and AdamW state. The probe only watches, but a watched step runs slower (every "
        "operator passes through Python); step 2's wall time, one sample each on this shared "
        "machine (see its load averages), is indicative only: " + "; ".join(timings) + ".",
    ]


def memory_findings(results: list[dict[str, Any]]) -> list[str]:
    """What the tables say, in numbers: where each method's peak falls, and what PEFT saves
    against full fine-tuning, split into weight-side memory and activations."""
    lines = []
    by_method = {result["method"]: result["memory_by_category"] for result in results}
    for method, memory in by_method.items():
        floor = memory["floor"]
        activations = memory["peak_per_category"]["activations"]
        lines.append(
            f"{method}: peak {mib(memory['peak'])} MiB during the {memory['phase_at_peak']}, "
            f"{memory['peak_above_floor']:+.2f} MiB from its floor of {mib(floor)} MiB, of "
            f"which activations are {100 * activations / floor:.0f}%."
        )
    full = by_method.get("full")
    for method, memory in by_method.items():
        if full is None or method == "full":
            continue

        def weight_side(peaks: dict[str, float]) -> float:
            return peaks["parameters_frozen"] + 4 * peaks["parameters_trainable"]

        full_peaks, peaks = full["peak_per_category"], memory["peak_per_category"]
        weights_saved = weight_side(full_peaks) - weight_side(peaks)
        activations_saved = full_peaks["activations"] - peaks["activations"]
        lines.append(
            f"{method} against full fine-tuning: peak {mib(full['peak'] - memory['peak'])} MiB "
            f"lower ({100 * (1 - memory['peak'] / full['peak']):.0f}%): {mib(weights_saved)} MiB "
            "from weights, gradients and AdamW moments, "
            f"{mib(activations_saved)} MiB from activations."
        )
    return lines


def where(machine: dict[str, Any]) -> str:
    if machine["device"] == "CPU":
        return f"the CPU alone: {machine['cpu']}"
    return f"{machine['device']} (host CPU: {machine['cpu']})"


def memory_markdown_report(
    command: str,
    arguments: argparse.Namespace,
    machine: dict[str, Any],
    results: list[dict[str, Any]],
) -> str:
    machine_lines = [f"- {key}: {value}" for key, value in machine.items()]
    changed = [result["method"] for result in results if not result["run_unchanged_by_probe"]]
    sections = [
        f"# Clinical text memory by category: MiniLM on {arguments.dataset}",
        f"Written by `{command}`; every number below was measured in that run, from one training "
        f"step per method, on {where(machine)}. Raw figures: `clinical_costs_memory.json`; plot: "
        "`clinical_costs_memory.png`.",
        "\n".join(machine_lines),
        "## Peak per category (MiB)",
        markdown_table(*memory_category_table(results)),
        "## Peak against the floor (MiB)",
        markdown_table(*floor_table(results)),
        f"**The probe changed the run of {', '.join(changed)}.**" if changed else None,
        "## What it shows",
        "\n".join(f"- {line}" for line in memory_findings(results)),
        "## What was measured",
        "\n".join(f"- {note}" for note in memory_notes(arguments, results)),
    ]
    return "\n\n".join(section for section in sections if section)


def plot_memory(results: list[dict[str, Any]], path: Path) -> None:
    """Each method's floor, stacked by part, beside its tracked peak and the process's own peak
    increase; and every category's peak per method (log scale)."""
    names = [result["method"] for result in results]
    figure = Figure(figsize=(15, 5), layout="tight")
    floors, categories = figure.subplots(1, 2, width_ratios=[1, 1.6])
    bottom = [0.0] * len(results)
    for label, part in FLOOR_PARTS:
        heights = [part(result["memory_by_category"]["peak_per_category"]) for result in results]
        floors.bar(names, heights, bottom=bottom, label=label, width=0.5)
        bottom = [low + height for low, height in zip(bottom, heights, strict=True)]
    positions = range(len(results))
    peaks = [result["memory_by_category"]["peak"] for result in results]
    floors.hlines(
        peaks,
        [x - 0.35 for x in positions],
        [x + 0.35 for x in positions],
        color="black",
        linewidth=2,
        zorder=3,
        label="tracked peak",
    )
    measured = "CUDA max allocated" if results[0]["memory_kind"] == "cuda_max_allocated" else "RSS"
    increases = [result["peak_increase_mib"] for result in results]
    floors.scatter(
        positions,
        increases,
        marker="o",
        color="black",
        facecolors="none",
        zorder=3,
        label=f"peak {measured} increase (CostTracker)",
    )
    floors.set(title="floor (stacked) against the peak, one steady step", ylabel="MiB")
    floors.set_ylim(0, 1.45 * max(max(peaks), max(increases)))
    floors.legend(fontsize="small", ncol=2, loc="upper right")
    labels = [label for _, label in MEMORY_COLUMNS]
    width = 0.8 / len(results)
    for index, result in enumerate(results):
        peaks_of = result["memory_by_category"]["peak_per_category"]
        # Nothing to draw on a log scale for an empty category (full fine-tuning freezes nothing).
        values = [
            peaks_of[name] if peaks_of[name] > 0 else float("nan") for name, _ in MEMORY_COLUMNS
        ]
        offsets = [
            column + (index - (len(results) - 1) / 2) * width for column in range(len(labels))
        ]
        categories.bar(offsets, values, width=width, label=result["method"])
    categories.set_xticks(range(len(labels)), labels, rotation=20, ha="right")
    categories.set_yscale("log")
    categories.set(title="peak per category", ylabel="MiB (log scale)")
    categories.set_ylim(
        top=10 * max(max(r["memory_by_category"]["peak_per_category"].values()) for r in results)
    )
    categories.legend(fontsize="small", ncol=len(results), loc="upper left")
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=120)
