"""PEFT on spoken digits with unseen speakers, and transfer from synthetic speech to real voices.

Runs the suite itself (`benchmarks.sweep`: one subprocess per run) on the Free Spoken Digit
Dataset with two speakers held out (george, lucas): every method x fraction of the training
speakers' clips, then each transfer method trained only on espeak-ng's synthetic digits and
scored on the same held-out FSDD speakers (`data.cross_domain`). Tabulates held-out accuracy,
macro F1, trainable parameters, peak memory and time per epoch; finished runs are not redone,
so an interrupted sweep resumes. Writes `fsdd_<model>.md` and a PNG plot next to it.

    python -m benchmarks.fsdd_peft --methods lora bitfit adapter_houlsby full
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from rich.progress import Progress  # noqa: E402

from benchmarks.sweep import read_metrics, run_suite  # noqa: E402
from benchmarks.tables import Column, markdown_table, print_table  # noqa: E402
from shared.atomic import atomic_path, write_text_atomic  # noqa: E402

SYNTHETIC = "espeak_digits"
HELD_OUT_FSDD = "+data.cross_domain.fsdd={split: speakers}"


def common_overrides(args: argparse.Namespace, method: str) -> list[str]:
    return [
        "pipeline=speech",
        f"model={args.model}",
        f"method={method}",
        f"trainer.max_epochs={args.epochs}",
        "trainer.enable_progress_bar=false",
        f"run.output_dir={args.runs}",
        *args.override,
    ]


def fsdd_row(args: argparse.Namespace, method: str, fraction: float) -> dict:
    """Train on a fraction of the training speakers' clips, test on the held-out speakers."""
    directory = run_suite(
        [*common_overrides(args, method), "data=fsdd", f"data.fraction={fraction}"]
    )
    metrics = read_metrics(directory)
    return row(metrics, method, f"FSDD {fraction:.0%}", metrics["test"], args.epochs)


def transfer_row(args: argparse.Namespace, method: str) -> dict:
    """Train on synthetic speech only, test on the held-out FSDD speakers."""
    directory = run_suite([*common_overrides(args, method), f"data={SYNTHETIC}", HELD_OUT_FSDD])
    metrics = read_metrics(directory)
    return row(metrics, method, "espeak-ng only", metrics["cross_domain"]["fsdd"], args.epochs)


def row(metrics: dict, method: str, training: str, scores: dict, epochs: int) -> dict:
    costs = metrics["costs"]
    return {
        "method": method,
        "training": training,
        "train_size": metrics["data"]["train_size"],
        "accuracy": scores["accuracy"],
        "f1_macro": scores["f1_macro"],
        "trainable": costs["trainable_parameters"],
        "trainable_percent": 100 * costs["trainable_fraction"],
        "peak_memory_mb": costs["peak_memory_mb"],
        "memory_kind": costs["peak_memory_kind"],
        "seconds_per_epoch": costs["train_seconds"] / epochs,
        "adapter_kib": costs["adapter_bytes"] / 1024,
    }


COLUMNS = (
    Column("method", "method", numeric=False),
    Column("trained on", "training", numeric=False),
    Column("train clips", "train_size"),
    Column("held-out ACC", "accuracy", "{:.3f}"),
    Column("macro F1", "f1_macro", "{:.3f}"),
    Column("trainable", "trainable", "{:,}"),
    Column("trainable %", "trainable_percent", "{:.2f}"),
    Column("peak memory MiB", "peak_memory_mb", "{:,.0f}"),
    Column("s / epoch", "seconds_per_epoch", "{:.1f}"),
    Column("adapter KiB", "adapter_kib", "{:,.0f}"),
)


def markdown(rows: list[dict], args: argparse.Namespace) -> str:
    lines = [
        f"# Spoken digits, unseen speakers: PEFT on {args.model}",
        "",
        f"Written by `python -m benchmarks.fsdd_peft`; {args.epochs} epochs per run, checkpoint "
        "with the lowest validation loss tested. Test set: every clip of the FSDD speakers george "
        "and lucas (1000 clips), whom no run hears in training. Every number was measured in "
        "this sweep.",
        "",
        *markdown_table(COLUMNS, rows),
    ]
    kind = rows[0]["memory_kind"] if rows else ""
    lines += ["", f"Peak memory: `{kind}` of the run's own process."]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], args: argparse.Namespace, path: Path) -> None:
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for training in dict.fromkeys(r["training"] for r in rows):
        points = [r for r in rows if r["training"] == training]
        axis.scatter(
            [r["trainable_percent"] for r in points],
            [r["accuracy"] for r in points],
            label=f"trained on {training}",
        )
        for r in points:
            axis.annotate(r["method"], (r["trainable_percent"], r["accuracy"]), fontsize=8)
    axis.axhline(0.97, linestyle="--", color="grey", label="target 0.97")
    axis.set_xscale("log")
    axis.set_xlabel("trainable parameters (%)")
    axis.set_ylabel("accuracy on held-out FSDD speakers")
    axis.legend(fontsize=8)
    axis.set_title(f"FSDD, speakers held out, {args.model}")
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="whisper_tiny_en")
    parser.add_argument(
        "--methods", nargs="+", default=["lora", "bitfit", "adapter_houlsby", "full"]
    )
    parser.add_argument("--fractions", nargs="+", type=float, default=[1.0, 0.1])
    parser.add_argument(
        "--transfer-methods",
        nargs="*",
        default=["adapter_houlsby", "lora"],
        help="methods trained on espeak-ng speech only",
    )
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--runs", type=Path, default=Path("runs/benchmarks"))
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--override", nargs="*", default=[], help="extra Hydra overrides")
    args = parser.parse_args()

    plan = [(m, f) for f in args.fractions for m in args.methods]
    plan += [(m, None) for m in args.transfer_methods]
    rows = []
    with Progress() as progress:
        task = progress.add_task("FSDD sweep", total=len(plan))
        for method, fraction in plan:
            where = "espeak-ng" if fraction is None else f"{fraction:.0%}"
            progress.update(task, description=f"{method} @ {where}")
            rows.append(
                transfer_row(args, method) if fraction is None else fsdd_row(args, method, fraction)
            )
            progress.advance(task)
    print_table("FSDD sweep (held-out speakers)", COLUMNS, rows)
    stem = args.output / f"fsdd_{args.model}"
    write_text_atomic(stem.with_suffix(".md"), markdown(rows, args))
    plot(rows, args, stem.with_suffix(".png"))
    print(stem.with_suffix(".md"))


if __name__ == "__main__":
    main()
