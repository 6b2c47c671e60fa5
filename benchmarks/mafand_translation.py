"""Low-resource translation with PEFT: zero-shot against PEFT methods, in and out of domain.

Runs the suite itself (`benchmarks.sweep`: one subprocess per run) on MAFAND-MT English ->
Hausa with Gemma-3-270M (the experiment config: trimmed output vocabulary, length-bucketed
batches, target-only logits): the untrained model (zero-shot, `trainer.max_epochs=0`), then
every method trained on each number of training pairs, with one seed; given candidate learning
rates (`--rates`), a method runs at each and the run with the best validation score (the
pipeline's monitor) stands for it, every candidate's score shown. Each run is scored by
BLEU and chrF on the MAFAND test set (news, in domain), FLORES-200 devtest (general) and
TICO-19 (health), out of domain, each capped to the same fixed subset of sentences so a CPU can
afford the generation. Tabulates the scores with trainable parameters, adapter size, peak
memory, training time and generation speed. Finished runs are not redone, so an interrupted
sweep resumes; the table and plot are rewritten after every run, and a method that cannot run
on the model (BitFit: Gemma-3 has no bias terms) gets a row saying why.
Writes `<stem>.md` and `<stem>.png` (default stem `mafand_<source>_<target>_methods`).

    python -m benchmarks.mafand_translation --methods lora ia3 --train-pairs all \
        --epochs 1 --test-sentences 200 [--rates lora=1e-3,3e-3 ia3=3e-3,1e-2]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from rich.progress import Progress  # noqa: E402

from benchmarks.clinical_costs_report import load_average  # noqa: E402
from benchmarks.sweep import read_metrics, run_suite  # noqa: E402
from benchmarks.tables import Column, markdown_table, print_table  # noqa: E402
from shared.atomic import atomic_path, write_text_atomic  # noqa: E402

OUT_OF_DOMAIN = ("flores200", "tico19")
COLUMNS = (
    Column("method", "method", numeric=False),
    Column("train pairs", "train_size"),
    Column("epochs", "epochs"),
    Column("lr", "lr", "{:.0e}"),
    Column("MAFAND BLEU", "bleu", "{:.2f}"),
    Column("MAFAND chrF", "chrf", "{:.2f}"),
    Column("FLORES BLEU", "flores200_bleu", "{:.2f}"),
    Column("FLORES chrF", "flores200_chrf", "{:.2f}"),
    Column("TICO BLEU", "tico19_bleu", "{:.2f}"),
    Column("TICO chrF", "tico19_chrf", "{:.2f}"),
    Column("trainable", "trainable", "{:,}"),
    Column("adapter KiB", "adapter_kib", "{:,.0f}"),
    Column("peak memory MiB", "peak_memory_mb", "{:,.0f}"),
    Column("train s", "train_seconds", "{:,.0f}"),
    Column("run min", "run_minutes", "{:.1f}"),
    Column("generated tokens/s", "tokens_per_second", "{:.1f}"),
    Column("note", "note", numeric=False),
)


def run(
    args: argparse.Namespace,
    label: str,
    method: str,
    train_pairs: int | None,
    epochs: int,
    extra: tuple[str, ...] = (),
    rate: float | None = None,
) -> dict:
    overrides = [
        "experiment=mafand_gemma3_270m",
        f"data.options.source={args.source}",
        f"data.options.target={args.target}",
        f"data.options.max_test_pairs={args.test_sentences}",
        f"data.options.train_pairs={'null' if train_pairs is None else train_pairs}",
        f"method={method}",
        f"seed={args.seed}",
        f"trainer.max_epochs={epochs}",
        f"trainer.limit_val_batches={args.val_batches}",
        "trainer.enable_progress_bar=false",
        f"run.output_dir={args.runs}",
        *args.override,
        *extra,
        *([] if rate is None else [f"optim.lr={rate}"]),
    ]
    try:
        directory = run_suite(overrides)
        metrics = read_metrics(directory)
    except RuntimeError as error:  # e.g. BitFit on a model without bias terms
        reason = [line for line in str(error).splitlines() if line.strip()][-1]
        return {"method": label, "epochs": epochs, "note": f"did not run: {reason[:160]}"}
    costs, in_domain = metrics["costs"], metrics["test"]
    row = {
        "method": label,
        "train_size": 0 if epochs == 0 else metrics["data"]["train_size"],
        "epochs": epochs,
        "lr": None if epochs == 0 else metrics["learning_rate"],
        "validation": metrics.get("validation", {}),
        "bleu": in_domain["bleu"],
        "chrf": in_domain["chrf"],
        "trainable": 0 if epochs == 0 else costs["trainable_parameters"],
        "adapter_kib": 0 if epochs == 0 else costs["adapter_bytes"] / 1024,
        "peak_memory_mb": costs["peak_memory_mb"],
        "memory_kind": costs["peak_memory_kind"],
        "train_seconds": costs["train_seconds"],
        "run_minutes": run_minutes(directory),
        "tokens_per_second": in_domain["generated_tokens_per_second"],
        "signature": in_domain["signatures"]["chrf"],
        "test_sentences": in_domain["sentences"],
        "vocabulary": metrics["data"].get("vocabulary", {}).get("size"),
    }
    for name in OUT_OF_DOMAIN:
        scores = metrics["cross_domain"][name]
        row |= {f"{name}_bleu": scores["bleu"], f"{name}_chrf": scores["chrf"]}
    return row


def domain_arms(adapter: Path | None, trainable: bool) -> list[tuple[str, tuple[str, ...]]]:
    """(label suffix, overrides) of each arm a method runs in: alone, then as a task adapter on
    the frozen domain (language) adapter, then on that adapter kept training: MAD-X's two steps
    against one adapter, all at the same budget."""
    arms: list[tuple[str, tuple[str, ...]]] = [("", ())]
    if adapter is not None:
        stack = f"stack.domain_adapters=[{adapter}]"
        arms.append((" + frozen domain adapter", (stack,)))
        if trainable:
            arms.append((" + trained domain adapter", (stack, "stack.train_domain=true")))
    return arms


def describe_domain_adapter(directory: Path) -> str:
    """What the domain adapter under the two-step rows is and what it cost, from its own
    metrics.json, so the table states the whole two-step budget."""
    metrics = read_metrics(directory)
    data, costs, test = metrics["data"], metrics["costs"], metrics["test"]
    perplexity = f", held-out perplexity {test['perplexity']:.1f}" if "perplexity" in test else ""
    return (
        f"Domain adapter `{directory}`: {metrics['injection']['method']} "
        f"({costs['trainable_parameters']:,} parameters), {data.get('objective', '')} "
        f"objective on {data['dataset']} ({costs['train_samples']:,} training texts, "
        f"{costs['train_steps']} steps, lr {metrics['learning_rate']:.0e}, "
        f"{costs['train_seconds']:,.0f} s){perplexity}."
    )


def validation_score(row: dict) -> float | None:
    """The row's best validation score, signed so that higher is better (a loss negated)."""
    validation = row.get("validation", {})
    best = validation.get("best")
    if best is None:
        return None
    return best if validation.get("mode", "max") == "max" else -best


def best_on_validation(candidates: list[dict]) -> dict:
    """The candidate run with the best validation score, its note listing every candidate's
    rate and score; a lone or unscored candidate stands as it is."""
    scored = [row for row in candidates if validation_score(row) is not None]
    if len(candidates) == 1 or not scored:
        return candidates[0]
    best = max(scored, key=validation_score)
    monitor = best["validation"].get("monitor", "validation")
    listed = ", ".join(
        f"{row['lr']:.0e} ({row['validation']['best']:.3f})"
        if validation_score(row) is not None
        else f"candidate failed: {row.get('note', '')[:60]}"
        for row in candidates
    )
    return best | {"note": f"lr chosen on {monitor} of {listed}"}


def parse_rates(value: str) -> tuple[str, list[float]]:
    """`lora=1e-3,3e-3` -> ("lora", [0.001, 0.003])."""
    method, _, listed = value.partition("=")
    try:
        rates = [float(rate) for rate in listed.split(",")]
    except ValueError:
        rates = []
    if not method or not rates or any(rate <= 0 for rate in rates):
        raise argparse.ArgumentTypeError(
            f"--rates item {value!r}: write METHOD=RATE[,RATE...] with positive rates, "
            "e.g. lora=1e-3,3e-3"
        )
    return method, rates


def run_minutes(directory: Path) -> float:
    """Wall-clock minutes of the whole run, model loading and testing included: from the config
    it wrote first to the metrics it wrote last."""
    started = (directory / "config.yaml").stat().st_mtime
    return ((directory / "metrics.json").stat().st_mtime - started) / 60


def markdown(rows: list[dict], args: argparse.Namespace) -> str:
    scored = [r for r in rows if "chrf" in r]
    vocabulary = next((r["vocabulary"] for r in scored if r.get("vocabulary")), None)
    lines = [
        f"# Translation {args.source}->{args.target}: PEFT methods on Gemma-3-270M (MAFAND-MT)",
        "",
        "Written by `python -m benchmarks.mafand_translation "
        + " ".join(sys.argv[1:])
        + "`. In domain: MAFAND-MT test (news); out of domain: FLORES-200 devtest (general) and "
        f"TICO-19 (health). Each is a fixed subset of {args.test_sentences} sentences (seed 0). "
        f"One training seed ({args.seed}) per method: differences of a chrF point or two are "
        "within seed noise. Greedy decoding; the checkpoint with the best validation chrF "
        f"(first {args.val_batches} validation batches) is tested. Output vocabulary trimmed to "
        f"{vocabulary or 'the pair'} tokens, zero-shot included (a row marked whole vocabulary "
        "scores the untrimmed output layer); methods at their default settings, "
        + (
            "each learning rate chosen among the candidates in the note on the validation "
            "monitor (the first validation batches), one run per candidate. "
            if args.rates
            else "and learning rates. "
        )
        + "Every number was measured in this sweep. Times are "
        f"wall-clock (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}) and include "
        "waiting for any other job that shared the CPU; load average (1 / 5 / 15 min) when this "
        f"table was written: {load_average()}.",
        *(f"- {note}" for note in args.note),
        *(
            [
                "- Two-step rows: '+ frozen domain adapter' trains the method as a task adapter "
                "on the domain adapter, frozen; '+ trained domain adapter' keeps that adapter "
                "training (stack.train_domain). Each stacked run records the adapter's sha256 "
                "and the proof that both members are active.",
                "- " + describe_domain_adapter(args.domain_adapter),
            ]
            if args.domain_adapter
            else []
        ),
        "",
        *markdown_table(COLUMNS, rows),
        "",
    ]
    for baseline in (r for r in scored if r["epochs"] == 0):
        lines += [
            f"chrF over {baseline['method']} (MAFAND / FLORES / TICO): "
            + "; ".join(
                f"{r['method']} {chrf_differences(r, baseline)}" for r in scored if r["epochs"]
            ),
            "",
        ]
    gains = stacked_gains(scored)
    if gains:
        lines += [
            "chrF of each two-step row over its method alone (MAFAND / FLORES / TICO): "
            + "; ".join(gains),
            "",
        ]
    if scored:
        lines += [
            f"sacrebleu chrF signature: `{scored[0]['signature']}`. Peak memory: "
            f"`{scored[0]['memory_kind']}` of the run's own process (model loading included). "
            "Run min: the whole run, from loading the model to writing its metrics, testing "
            "included.",
        ]
    return "\n".join(lines) + "\n"


def chrf_differences(row: dict, baseline: dict) -> str:
    """'+a / +b / +c': the row's chrF minus the baseline's on MAFAND, FLORES and TICO."""
    return " / ".join(
        f"{row[key] - baseline[key]:+.2f}" for key in ("chrf", "flores200_chrf", "tico19_chrf")
    )


def stacked_gains(rows: list[dict]) -> list[str]:
    """'<two-step row> +a / +b / +c' for each stacked row whose method also ran alone."""
    alone = {row["method"]: row for row in rows}
    gains = []
    for row in rows:
        method, _, arm = row["method"].partition(" + ")
        if arm and method in alone:
            gains.append(f"{row['method']} {chrf_differences(row, alone[method])}")
    return gains


def plot(rows: list[dict], args: argparse.Namespace, path: Path) -> None:
    rows = [r for r in rows if "chrf" in r]
    figure, axis = plt.subplots(figsize=(9, 4.5))
    labels = [f"{r['method']}\n{r['train_size']} pairs" for r in rows]
    positions = range(len(rows))
    width = 0.27
    for offset, (key, name) in zip(
        (-width, 0, width),
        (("chrf", "MAFAND"), ("flores200_chrf", "FLORES-200"), ("tico19_chrf", "TICO-19")),
        strict=True,
    ):
        axis.bar([p + offset for p in positions], [r[key] for r in rows], width, label=name)
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
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["lora", "ia3", "adapter_houlsby", "adapter_pfeiffer", "prompt_tuning", "bitfit"],
    )
    parser.add_argument(
        "--train-pairs",
        nargs="+",
        type=parse_pairs,
        default=[None],
        help="training pairs per run; 'all' (default) keeps every pair",
    )
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--test-sentences", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stem", default=None, help="output file name, without suffix")
    parser.add_argument("--val-batches", type=int, default=4)
    parser.add_argument("--runs", type=Path, default=Path("runs/benchmarks"))
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--override", nargs="*", default=[], help="extra Hydra overrides")
    parser.add_argument(
        "--note",
        action="append",
        default=[],
        help="a line for the table's notes, e.g. what else ran on the machine meanwhile",
    )
    parser.add_argument(
        "--rates",
        nargs="+",
        type=parse_rates,
        default=[],
        help="candidate learning rates per method, METHOD=RATE[,RATE...]; the best on validation "
        "stands for the method (a method not named runs at its default rate)",
    )
    parser.add_argument(
        "--zero-shot-whole-vocabulary",
        action="store_true",
        help="last, score zero-shot again with the untrimmed output layer",
    )
    parser.add_argument(
        "--domain-adapter",
        type=Path,
        default=None,
        help="a domain (language) adapter's run directory: each method also runs as a task "
        "adapter stacked on it, frozen",
    )
    parser.add_argument(
        "--train-domain",
        action="store_true",
        help="with --domain-adapter, also run each method on that adapter kept training",
    )
    args = parser.parse_args()
    if args.train_domain and args.domain_adapter is None:
        parser.error("--train-domain needs --domain-adapter DIR")
    if args.domain_adapter is not None and not (args.domain_adapter / "metrics.json").is_file():
        parser.error(f"--domain-adapter {args.domain_adapter}: not a finished run directory")
    rates = dict(args.rates)

    plan = [("zero-shot", "lora", None, 0, (), [None])]
    plan += [
        (m + suffix, m, pairs, args.epochs, extra, rates.get(m, [None]))
        for pairs in args.train_pairs
        for m in args.methods
        for suffix, extra in domain_arms(args.domain_adapter, args.train_domain)
    ]
    if args.zero_shot_whole_vocabulary:
        whole = ("vocabulary.trim=false",)
        plan.append(("zero-shot (whole vocabulary)", "lora", None, 0, whole, [None]))
    stem = args.output / (args.stem or f"mafand_{args.source}_{args.target}_methods")
    rows = []
    with Progress() as progress:
        task = progress.add_task("translation sweep", total=sum(len(p[-1]) for p in plan))
        for label, method, pairs, epochs, extra, candidate_rates in plan:
            candidates = []
            for rate in candidate_rates:
                progress.update(
                    task,
                    description=f"{label} @ {pairs or 'all'} pairs, {epochs} ep, lr {rate}",
                )
                candidates.append(run(args, label, method, pairs, epochs, extra, rate))
                progress.advance(task)
            rows.append(best_on_validation(candidates))
            write_text_atomic(stem.with_suffix(".md"), markdown(rows, args))
            plot(rows, args, stem.with_suffix(".png"))
    print_table(
        f"{args.source}->{args.target}, {args.test_sentences} test sentences", COLUMNS, rows
    )
    print(stem.with_suffix(".md"))


if __name__ == "__main__":
    main()
