"""Low-resource translation with PEFT: zero-shot against LoRA and IA3 at two training sizes.

Runs the suite itself (`benchmarks.sweep`: one subprocess per run) on MAFAND-MT English ->
Hausa with Gemma-3-270M: the untrained model (zero-shot, `trainer.max_epochs=0`), then every
method trained on each number of training pairs. Each run is scored by BLEU and chrF on the
MAFAND test set (news, in domain) and on FLORES-200 devtest (general domain, out of domain),
each capped to the same fixed subset of sentences so a CPU can afford the generation. Tabulates
the scores with trainable parameters, peak memory, training time and generation speed; finished
runs are not redone, so an interrupted sweep resumes. Writes `mafand_<pair>.md` and a PNG.

    python -m benchmarks.mafand_translation --train-pairs 1000 --test-sentences 100
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

OUT_OF_DOMAIN = "flores200"
COLUMNS = (
    Column("method", "method", numeric=False),
    Column("train pairs", "train_size"),
    Column("epochs", "epochs"),
    Column("MAFAND BLEU", "bleu", "{:.2f}"),
    Column("MAFAND chrF", "chrf", "{:.2f}"),
    Column("FLORES BLEU", "ood_bleu", "{:.2f}"),
    Column("FLORES chrF", "ood_chrf", "{:.2f}"),
    Column("trainable", "trainable", "{:,}"),
    Column("peak memory MiB", "peak_memory_mb", "{:,.0f}"),
    Column("train s", "train_seconds", "{:,.0f}"),
    Column("generated tokens/s", "tokens_per_second", "{:.1f}"),
)


def run(args: argparse.Namespace, method: str, train_pairs: int | None, epochs: int) -> dict:
    overrides = [
        "experiment=mafand_gemma3_270m",
        f"data.options.source={args.source}",
        f"data.options.target={args.target}",
        f"data.options.max_test_pairs={args.test_sentences}",
        f"data.options.train_pairs={'null' if train_pairs is None else train_pairs}",
        "~data.cross_domain.tico19",
        f"method={method}",
        f"trainer.max_epochs={epochs}",
        f"trainer.limit_val_batches={args.val_batches}",
        "trainer.enable_progress_bar=false",
        f"run.output_dir={args.runs}",
        *args.override,
    ]
    metrics = read_metrics(run_suite(overrides))
    costs, in_domain = metrics["costs"], metrics["test"]
    out_of_domain = metrics["cross_domain"][OUT_OF_DOMAIN]
    return {
        "method": "zero-shot" if epochs == 0 else method,
        "train_size": 0 if epochs == 0 else metrics["data"]["train_size"],
        "epochs": epochs,
        "bleu": in_domain["bleu"],
        "chrf": in_domain["chrf"],
        "ood_bleu": out_of_domain["bleu"],
        "ood_chrf": out_of_domain["chrf"],
        "trainable": 0 if epochs == 0 else costs["trainable_parameters"],
        "peak_memory_mb": costs["peak_memory_mb"],
        "memory_kind": costs["peak_memory_kind"],
        "train_seconds": costs["train_seconds"],
        "tokens_per_second": in_domain["generated_tokens_per_second"],
        "signature": in_domain["signatures"]["chrf"],
        "test_sentences": in_domain["sentences"],
    }


def markdown(rows: list[dict], args: argparse.Namespace) -> str:
    zero_shot = next((r["chrf"] for r in rows if r["epochs"] == 0), None)
    lines = [
        f"# Translation {args.source}->{args.target}: PEFT on Gemma-3-270M (MAFAND-MT)",
        "",
        "Written by `python -m benchmarks.mafand_translation`. In domain: MAFAND-MT test (news); "
        f"out of domain: FLORES-200 devtest. Each is a fixed subset of {args.test_sentences} "
        "sentences (seed 0), for CPU generation. Greedy decoding; checkpoint with the best "
        "validation chrF tested. Every number was measured in this sweep.",
        "",
        *markdown_table(COLUMNS, rows),
        "",
    ]
    if zero_shot is not None:
        lines += [
            "chrF gain over zero-shot, in domain: "
            + ", ".join(
                f"{r['method']} ({r['train_size']} pairs) {r['chrf'] - zero_shot:+.2f}"
                for r in rows
                if r["epochs"]
            ),
            "",
        ]
    if rows:
        lines += [
            f"sacrebleu chrF signature: `{rows[0]['signature']}`. Peak memory: "
            f"`{rows[0]['memory_kind']}` of the run's own process.",
        ]
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], args: argparse.Namespace, path: Path) -> None:
    figure, axis = plt.subplots(figsize=(7, 4.5))
    labels = [f"{r['method']}\n{r['train_size']} pairs" for r in rows]
    positions = range(len(rows))
    width = 0.4
    axis.bar([p - width / 2 for p in positions], [r["chrf"] for r in rows], width, label="MAFAND")
    axis.bar(
        [p + width / 2 for p in positions], [r["ood_chrf"] for r in rows], width, label="FLORES"
    )
    axis.set_xticks(list(positions), labels, fontsize=8)
    axis.set_ylabel("chrF")
    axis.legend(fontsize=8)
    axis.set_title(f"Gemma-3-270M, {args.source}->{args.target}, {args.test_sentences} sentences")
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=120)
    plt.close(figure)


def parse_pairs(value: str) -> int | None:
    return None if value == "all" else int(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="eng")
    parser.add_argument("--target", default="hau")
    parser.add_argument("--methods", nargs="+", default=["lora", "ia3"])
    parser.add_argument(
        "--train-pairs",
        nargs="+",
        type=parse_pairs,
        default=[1000, None],
        help="training pairs per run; 'all' keeps every pair",
    )
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--test-sentences", type=int, default=100)
    parser.add_argument("--val-batches", type=int, default=4)
    parser.add_argument("--runs", type=Path, default=Path("runs/benchmarks"))
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--override", nargs="*", default=[], help="extra Hydra overrides")
    args = parser.parse_args()

    plan = [("lora", None, 0)]
    plan += [(m, pairs, args.epochs) for pairs in args.train_pairs for m in args.methods]
    rows = []
    with Progress() as progress:
        task = progress.add_task("translation sweep", total=len(plan))
        for method, pairs, epochs in plan:
            progress.update(task, description=f"{method} @ {pairs or 'all'} pairs, {epochs} ep")
            rows.append(run(args, method, pairs, epochs))
            progress.advance(task)
    print_table(
        f"{args.source}->{args.target}, {args.test_sentences} test sentences", COLUMNS, rows
    )
    stem = args.output / f"mafand_{args.source}_{args.target}"
    write_text_atomic(stem.with_suffix(".md"), markdown(rows, args))
    plot(rows, args, stem.with_suffix(".png"))
    print(stem.with_suffix(".md"))


if __name__ == "__main__":
    main()
