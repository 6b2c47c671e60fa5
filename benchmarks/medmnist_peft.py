"""PEFT on MedMNIST against the published MedMNIST v2 baselines, at full and reduced labels.

Runs the suite itself (`benchmarks.sweep`: one subprocess per run) for every method x training
fraction on one dataset and backbone, then tabulates test accuracy and AUROC beside MedMNIST v2's
ResNet-18 (28) numbers, with trainable parameters, peak memory and time per epoch. Finished runs
are not redone, so an interrupted sweep resumes. Writes `medmnist_<dataset>.md` and a PNG plot
next to it.

    python -m benchmarks.medmnist_peft --dataset pneumoniamnist --methods lora ssf bitfit full
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import Progress  # noqa: E402
from rich.table import Table  # noqa: E402

from benchmarks.sweep import read_metrics, run_suite  # noqa: E402
from shared.atomic import atomic_path, write_text_atomic  # noqa: E402

# Published test (ACC, AUC) of ResNet-18 at 28x28: Yang et al., "MedMNIST v2", Scientific Data
# 10:41 (2023), Table 3. Reference values to compare against, not measurements of ours.
RESNET18_28_BASELINE = {
    "pneumoniamnist": (0.854, 0.944),
    "breastmnist": (0.863, 0.901),
    "bloodmnist": (0.958, 0.998),
    "organamnist": (0.935, 0.997),
}


def run_one(args: argparse.Namespace, method: str, fraction: float) -> Path:
    """Train and test one configuration in a fresh process; returns its run directory."""
    return run_suite(
        [
            f"experiment={args.dataset}_{args.model}",
            f"method={method}",
            f"data.fraction={fraction}",
            f"data.image_size={args.image_size}",
            f"trainer.max_epochs={args.epochs}",
            "trainer.enable_progress_bar=false",
            f"run.output_dir={args.runs}",
            *args.override,
        ]
    )


def row_of(directory: Path, method: str, fraction: float, epochs: int) -> dict:
    metrics = read_metrics(directory)
    costs = metrics["costs"]
    return {
        "method": method,
        "fraction": fraction,
        "train_size": metrics["data"]["train_size"],
        "accuracy": metrics["test"]["accuracy"],
        "auroc": metrics["test"]["auroc_macro"],
        "trainable": costs["trainable_parameters"],
        "trainable_percent": 100 * costs["trainable_fraction"],
        "peak_memory_mb": costs["peak_memory_mb"],
        "memory_kind": costs["peak_memory_kind"],
        "seconds_per_epoch": costs["train_seconds"] / epochs,
        "adapter_bytes": costs["adapter_bytes"],
    }


def markdown(rows: list[dict], args: argparse.Namespace) -> str:
    accuracy, auroc = RESNET18_28_BASELINE.get(args.dataset, (float("nan"), float("nan")))
    lines = [
        f"# {args.dataset}: PEFT on {args.model} ({args.image_size}x{args.image_size})",
        "",
        f"Written by `python -m benchmarks.medmnist_peft`; {args.epochs} epochs per run, best "
        "validation AUROC checkpoint tested. Every number except the published baseline row was "
        "measured in this sweep.",
        "",
        "| method | train fraction | train images | test ACC | test AUC | trainable | trainable % "
        "| peak memory MiB | s / epoch | adapter KiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| ResNet-18 (28), MedMNIST v2 | 1.0 | | {accuracy:.3f} | {auroc:.3f} | | | | | |",
    ]
    for row in rows:
        lines.append(
            f"| {row['method']} | {row['fraction']} | {row['train_size']} | {row['accuracy']:.3f} "
            f"| {row['auroc']:.3f} | {row['trainable']:,} | {row['trainable_percent']:.2f} "
            f"| {row['peak_memory_mb']:,.0f} | {row['seconds_per_epoch']:.1f} "
            f"| {row['adapter_bytes'] / 1024:,.0f} |"
        )
    kind = rows[0]["memory_kind"] if rows else ""
    lines += ["", f"Peak memory: `{kind}` of the run's own process."]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], args: argparse.Namespace, path: Path) -> None:
    accuracy, auroc = RESNET18_28_BASELINE.get(args.dataset, (None, None))
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for axis, key, reference, label in (
        (axes[0], "accuracy", accuracy, "test accuracy"),
        (axes[1], "auroc", auroc, "test AUROC"),
    ):
        for fraction in args.fractions:
            points = [r for r in rows if r["fraction"] == fraction]
            axis.scatter(
                [r["trainable_percent"] for r in points],
                [r[key] for r in points],
                label=f"{fraction:.0%} of training labels",
            )
            for r in points:
                axis.annotate(r["method"], (r["trainable_percent"], r[key]), fontsize=8)
        if reference is not None:
            axis.axhline(
                reference, linestyle="--", color="grey", label="ResNet-18 (28), MedMNIST v2"
            )
        axis.set_xscale("log")
        axis.set_xlabel("trainable parameters (%)")
        axis.set_ylabel(label)
        axis.legend(fontsize=8)
    figure.suptitle(f"{args.dataset}, {args.model}")
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=120)
    plt.close(figure)


def print_table(rows: list[dict]) -> None:
    table = Table(title="MedMNIST sweep")
    for column in ("method", "fraction", "ACC", "AUC", "trainable %", "peak MiB", "s/epoch"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["method"],
            str(r["fraction"]),
            f"{r['accuracy']:.3f}",
            f"{r['auroc']:.3f}",
            f"{r['trainable_percent']:.2f}",
            f"{r['peak_memory_mb']:,.0f}",
            f"{r['seconds_per_epoch']:.1f}",
        )
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="pneumoniamnist")
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--methods", nargs="+", default=["lora", "ssf", "bitfit", "full"])
    parser.add_argument("--fractions", nargs="+", type=float, default=[1.0, 0.1])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--runs", type=Path, default=Path("runs/benchmarks"))
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--override", nargs="*", default=[], help="extra Hydra overrides")
    args = parser.parse_args()

    plan = [(m, f) for f in args.fractions for m in args.methods]
    rows = []
    with Progress() as progress:
        task = progress.add_task(f"{args.dataset} sweep", total=len(plan))
        for method, fraction in plan:
            progress.update(task, description=f"{method} @ {fraction:.0%}")
            directory = run_one(args, method, fraction)
            rows.append(row_of(directory, method, fraction, args.epochs))
            progress.advance(task)
    print_table(rows)
    stem = args.output / f"medmnist_{args.dataset}"
    write_text_atomic(stem.with_suffix(".md"), markdown(rows, args))
    plot(rows, args, stem.with_suffix(".png"))
    print(stem.with_suffix(".md"))


if __name__ == "__main__":
    main()
