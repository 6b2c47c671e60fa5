"""Translation training and generation speed: the pipeline before (full logits, whole output
layer, randomly padded batches) against target-only logits, a trimmed output vocabulary and
length-bucketed batches, side by side in one process.

Gemma-3-270M with LoRA (the suite's default settings) on MAFAND-MT English -> Hausa, four
measurements, each interleaving its variants round by round so that a change in machine load
hits all of them alike:

1. **One training step** on one batch of `--batch-size` pairs cut to exactly `--tokens` tokens
   (prompt then target, no padding), by three paths: *full logits* (`model(**inputs).loss`, the
   pipeline before), *target-only logits* (`target_logits.target_only_loss`) and *trimmed head*
   (the same over the trimmed output layer that `vocabulary.trim=true` builds). A step is
   forward, loss, backward, AdamW step and `zero_grad`, each from the same adapter state. Peak
   memory: the rise of the resident set during one step above the resting level (the
   high-water mark reset through /proc/self/clear_refs before it).
2. **The same training pairs as real batches**: `--slice-batches` batches' worth of training
   pairs, batched at random and trained with full logits (before) or length-bucketed and trained
   through the trimmed head (after).
3. **Generation with a fixed length**: the batch's prompts, greedy with the KV cache, exactly
   `--new-tokens` tokens each, through the whole and the trimmed output layer.
4. **Generation of test sentences** as the pipeline does it (`PeftTranslator.translate`: stop at
   a line break or end of sequence, at most 64 tokens): the first `--test-sentences` MAFAND test
   sentences in file-order batches through the whole output layer (before), or sorted by length
   through the trimmed one (after).

The padding share of training and test batches with and without length buckets comes from the
data module. The load average is recorded before each measurement. Writes
`translation_speed.md` and `translation_speed.png` to `--output`.

    python -m benchmarks.translation_speed [--rounds 5] [--new-tokens 32]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from benchmarks.clinical_costs_report import describe_machine, load_average  # noqa: E402
from benchmarks.tables import Column, markdown_table, print_table  # noqa: E402
from peftsuite.config import load_config  # noqa: E402
from pipelines.registry import prepare_pipeline  # noqa: E402
from pipelines.translation.backbones import TranslationBackbone  # noqa: E402
from pipelines.translation.generation import translation_processors  # noqa: E402
from pipelines.translation.lightning_module import PeftTranslator  # noqa: E402
from pipelines.translation.pipeline import output_vocabulary  # noqa: E402
from pipelines.translation.target_logits import target_only_loss  # noqa: E402
from pipelines.translation.vocabulary import TrimmedOutputLayer  # noqa: E402
from shared.atomic import atomic_path, write_text_atomic  # noqa: E402
from shared.inject import inject_method  # noqa: E402
from shared.length_buckets import (  # noqa: E402
    LengthBucketBatchSampler,
    padding_share,
    plain_batches,
)

PATHS = ("full logits", "target-only logits", "trimmed head")
TIME_COLUMNS = (
    Column("wall s (median)", "wall", "{:.2f}"),
    Column("min-max wall s", "range", numeric=False),
    Column("speed-up, wall", "speedup_wall", "{:.2f}x"),
    Column("CPU s (median)", "cpu", "{:.2f}"),
    Column("speed-up, CPU", "speedup_cpu", "{:.2f}x"),
)
RATE_COLUMNS = (
    Column("per wall s (median)", "wall", "{:.2f}"),
    Column("min-max", "range", numeric=False),
    Column("speed-up, wall", "speedup_wall", "{:.2f}x"),
    Column("per CPU s (median)", "cpu", "{:.2f}"),
    Column("speed-up, CPU", "speedup_cpu", "{:.2f}x"),
)
LOAD = Column("load before", "load", numeric=False)
STEP_COLUMNS = (
    Column("path", "path", numeric=False),
    *TIME_COLUMNS,
    Column("peak step memory MiB", "peak_mib", "{:,.0f}"),
    Column("loss", "loss", "{:.4f}"),
    LOAD,
)
SLICE_COLUMNS = (
    Column("pipeline", "path", numeric=False),
    *TIME_COLUMNS,
    Column("padding", "padding", "{:.1%}"),
    LOAD,
)
GENERATION_COLUMNS = (Column("output layer: tokens", "path", numeric=False), *RATE_COLUMNS, LOAD)
TEST_COLUMNS = (
    Column("pipeline: sentences", "path", numeric=False),
    *RATE_COLUMNS,
    Column("generated tokens", "tokens", "{:,}"),
    Column("prompt padding", "padding", "{:.1%}"),
    LOAD,
)


def rss_kib(field: str = "VmRSS") -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+)", status).group(1))


def reset_peak() -> int:
    """Return freed memory to the system, reset the high-water mark; the resting RSS in KiB."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    Path("/proc/self/clear_refs").write_text("5")
    return rss_kib()


class Clock:
    """Wall-clock and CPU time (all of the process' threads) of a `with` block. On cores shared
    with other jobs, wall time also counts the time other jobs ran; CPU time does not."""

    def __enter__(self) -> Clock:
        self.began = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self.began[0]
        self.cpu = time.process_time() - self.began[1]


def record(row: dict[str, Any], clock: Clock, work: float | None = None) -> None:
    """Add one sample: seconds, or with `work` (tokens, sentences) a rate per second."""
    for key in ("wall", "cpu"):
        seconds = getattr(clock, key)
        row.setdefault(f"{key}_samples", []).append(seconds if work is None else work / seconds)


def summarise(rows: list[dict[str, Any]], higher_is_better: bool) -> list[dict[str, Any]]:
    """Medians (and the wall-clock range) of each row's samples; speed-ups against the first
    row, by wall-clock and by CPU time."""
    for row in rows:
        for key in ("wall", "cpu"):
            values = row.pop(f"{key}_samples")
            row[key] = statistics.median(values)
            if key == "wall":
                row["range"] = f"{min(values):.2f}-{max(values):.2f}"
    for row in rows:
        for key in ("wall", "cpu"):
            ratio = row[key] / rows[0][key]
            row[f"speedup_{key}"] = ratio if higher_is_better else 1 / ratio
    return rows


class Bench:
    """The model with LoRA, its two output layers, and the data, shared by every measurement."""

    def __init__(self, args: argparse.Namespace) -> None:
        config = load_config(
            [
                "experiment=mafand_gemma3_270m",
                "vocabulary.trim=false",
                f"data.batch_size={args.batch_size}",
                *args.override,
            ]
        )
        prepared = prepare_pipeline(config)
        self.data, self.base = prepared.datamodule, prepared.model
        self.tokenizer = self.data.collate_fn.tokenizer
        backbone = TranslationBackbone(self.base, self.tokenizer, "causal")
        vocabulary, self.vocabulary = output_vocabulary(
            config, self.data.splits, backbone, self.data, None
        )
        whole = self.base.get_output_embeddings()
        self.heads = {"whole": whole, "trimmed": TrimmedOutputLayer(whole, vocabulary)}
        self.model, self.report = inject_method(self.base, {"name": "lora"})
        self.trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.start = [p.detach().clone() for p in self.trainable]
        self.data.setup()

    def use(self, head: str) -> None:
        self.base.set_output_embeddings(self.heads[head])

    def step(self, inputs: dict[str, torch.Tensor], path: str) -> float:
        """One training step from the starting adapter state; the loss."""
        self.use("trimmed" if path == "trimmed head" else "whole")
        optimizer = torch.optim.AdamW(self.trainable, lr=1e-4)
        if path == "full logits":
            loss = self.model(**inputs).loss
        else:
            loss = target_only_loss(self.model, inputs, "causal")
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            for parameter, value in zip(self.trainable, self.start, strict=True):
                parameter.copy_(value)
        return float(loss.detach())

    def pairs(self, indices: list[int]) -> list[dict[str, Any]]:
        return [self.data.datasets["train"][index] for index in indices]


def fixed_length_batch(bench: Bench, batch_size: int, tokens: int) -> dict[str, Any]:
    """The `batch_size` training pairs whose prompt + target are the shortest to reach `tokens`
    tokens, cut to exactly that many (no padding; the least of each target cut off)."""
    lengths = bench.data.lengths("train")["training"]
    reaching = sorted((length, index) for index, length in enumerate(lengths) if length >= tokens)
    chosen = [index for _, index in reaching[:batch_size]]
    if len(chosen) < batch_size:
        raise SystemExit(f"fewer than {batch_size} training pairs reach {tokens} tokens")
    batch = bench.data.collate_fn(bench.pairs(chosen))
    batch["inputs"] = {key: value[:, :tokens] for key, value in batch["inputs"].items()}
    return batch


def time_steps(bench: Bench, inputs: dict[str, torch.Tensor], rounds: int) -> list[dict]:
    rows = {path: {"path": path, "load": load_average()} for path in PATHS}
    bench.model.train()
    for path in PATHS:  # warm-up, and the peak memory of one step
        resting = reset_peak()
        rows[path]["loss"] = bench.step(inputs, path)
        rows[path]["peak_mib"] = (rss_kib("VmHWM") - resting) / 1024
    for _ in range(rounds):
        for path in PATHS:
            with Clock() as clock:
                bench.step(inputs, path)
            record(rows[path], clock)
    return summarise(list(rows.values()), higher_is_better=False)


def time_training_slice(bench: Bench, batches: int, batch_size: int, rounds: int) -> list[dict]:
    """The same pairs, batched at random with full logits vs bucketed through the trimmed head."""
    shuffled = plain_batches(len(bench.data.datasets["train"]), batch_size, seed=0)[:batches]
    order = [index for batch in shuffled for index in batch]
    lengths = bench.data.lengths("train")["training"]
    plain = plain_batches(len(order), batch_size)
    plain = [[order[i] for i in batch] for batch in plain]
    bucket = LengthBucketBatchSampler(
        [lengths[i] for i in order], batch_size, seed=0, pool_batches=batches
    )
    bucketed = [[order[i] for i in batch] for batch in bucket.batches()]
    variants = {
        "before: random batches, full logits": (plain, "full logits"),
        "after: length buckets, trimmed head": (bucketed, "trimmed head"),
    }
    collated = {
        name: [bench.data.collate_fn(bench.pairs(batch))["inputs"] for batch in batching]
        for name, (batching, _) in variants.items()
    }
    rows = {
        name: {
            "path": name,
            "load": load_average(),
            "padding": padding_share(lengths, batching),
        }
        for name, (batching, _) in variants.items()
    }
    bench.model.train()
    for _ in range(rounds):
        for name, (_, path) in variants.items():
            with Clock() as clock:
                for inputs in collated[name]:
                    bench.step(inputs, path)
            record(rows[name], clock)
    return summarise(list(rows.values()), higher_is_better=False)


def time_fixed_generation(bench: Bench, inputs: dict, new_tokens: int, rounds: int):
    settings = {
        "max_new_tokens": new_tokens,
        "min_new_tokens": new_tokens,
        "do_sample": False,
        "use_cache": True,
        "pad_token_id": bench.tokenizer.pad_token_id,
    }
    start = inputs["input_ids"].shape[1]
    kept = len(bench.heads["trimmed"].kept_ids)
    names = {"whole (262,144 tokens)": "whole", f"trimmed ({kept:,} tokens)": "trimmed"}
    rows = {name: {"path": name, "load": load_average()} for name in names}
    bench.model.eval()
    with torch.no_grad():
        for round_index in range(rounds + 1):  # the first round warms up
            for name, head in names.items():
                bench.use(head)
                trimmed = bench.heads["trimmed"] if head == "trimmed" else None
                processors = translation_processors(start=start, trimmed=trimmed)
                with Clock() as clock:
                    output = bench.model.generate(**inputs, **settings, logits_processor=processors)
                if round_index:
                    record(rows[name], clock, work=output[:, start:].numel())
    return summarise(list(rows.values()), higher_is_better=True)


def time_test_generation(bench: Bench, sentences: int, batch_size: int) -> list[dict]:
    """The first `sentences` in-domain test sentences, translated as the pipeline does."""
    test = bench.data.datasets["test"]
    items = [test[index] for index in range(sentences)]
    lengths = bench.data.lengths("test")["generation"][:sentences]
    variants = {
        "before: file order, whole output layer": (
            plain_batches(sentences, batch_size),
            "whole",
        ),
        "after: sorted by length, trimmed output layer": (
            LengthBucketBatchSampler(lengths, batch_size, shuffle=False).batches(),
            "trimmed",
        ),
    }
    translator = PeftTranslator(
        bench.model,
        bench.report,
        tokenizer=bench.tokenizer,
        architecture="causal",
        learning_rate=1e-4,
        max_new_tokens=64,
    )
    bench.model.eval()
    rows = []
    for name, (batches, head) in variants.items():
        bench.use(head)
        row = {"path": name, "load": load_average(), "padding": padding_share(lengths, batches)}
        row["tokens"] = 0
        with torch.no_grad(), Clock() as clock:
            for batch in batches:
                inputs = bench.data.collate_fn([items[i] for i in batch])["generation_inputs"]
                row["tokens"] += translator.translate(inputs)[1]
        record(row, clock, work=sentences)
        rows.append(row)
    return summarise(rows, higher_is_better=True)


def plot(steps, slices, generation, tests, path: Path, title: str) -> None:
    figure, axes = plt.subplots(1, 4, figsize=(15, 4))
    panels = (
        (steps, "cpu", "one training step, CPU s"),
        (slices, "cpu", "same pairs, one pass, CPU s"),
        (generation, "cpu", "generated tokens per CPU s (fixed length)"),
        (tests, "cpu", "test sentences per CPU s"),
    )
    for axis, (rows, key, label) in zip(axes, panels, strict=True):
        names = [row["path"].replace(": ", ":\n").replace(", ", ",\n") for row in rows]
        axis.bar(
            names, [row[key] for row in rows], color=["tab:gray", *["tab:blue"] * 2][: len(rows)]
        )
        axis.set_ylabel(label)
        axis.tick_params(axis="x", labelsize=7)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=120)
    plt.close(figure)


def markdown(args, bench, batch, results, padding, machine) -> str:
    steps, slices, generation, tests = results
    targets = int((batch["inputs"]["labels"][:, 1:] != -100).sum())
    positions = batch["inputs"]["labels"][:, 1:].numel()
    vocabulary = bench.vocabulary
    coverage = vocabulary["test_reference_coverage"]
    lines = [
        "# Translation speed: the pipeline before and after target-only logits, a trimmed "
        "output vocabulary and length-bucketed batches",
        "",
        f"Written by `python -m benchmarks.translation_speed {' '.join(sys.argv[1:])}`. "
        "Gemma-3-270M with LoRA (suite defaults), MAFAND-MT eng->hau. Every table's rows ran in "
        "one process, interleaved round by round, on the same data. "
        f"{machine} The load average (1 / 5 / 15 min) before each measurement is in its table: "
        "up to about the number of torch threads is this process alone; above that, other jobs "
        "shared the cores, wall-clock time also counts the time they ran, and CPU time (all "
        "threads of this process) is the steadier measure. Speed-ups are against the first row "
        "(the pipeline before).",
        "",
        f"## 1. One training step: {args.batch_size} pairs x {args.tokens} tokens, no padding",
        "",
        f"{targets} of the {positions} predicted positions are target tokens. Median of "
        f"{args.rounds} rounds after a warm-up; forward, loss, backward, AdamW step.",
        "",
        *markdown_table(STEP_COLUMNS, steps),
        "",
        "Peak step memory: rise of the resident set during one step above the resting level.",
        "",
        f"## 2. The same {args.slice_batches * args.batch_size} training pairs as real batches",
        "",
        f"One pass over {args.slice_batches} batches of {args.batch_size}; median of "
        f"{args.slice_rounds} rounds.",
        "",
        *markdown_table(SLICE_COLUMNS, slices),
        "",
        f"## 3. Generation: {args.batch_size} prompts, greedy, {args.new_tokens} new tokens each",
        "",
        f"Generated tokens per second; median of {args.rounds} rounds after a warm-up.",
        "",
        *markdown_table(GENERATION_COLUMNS, generation),
        "",
        f"## 4. Translating the first {args.test_sentences} MAFAND test sentences "
        f"(batches of {args.eval_batch_size}, as the pipeline tests)",
        "",
        *markdown_table(TEST_COLUMNS, tests),
        "",
        "Test sentences per second, one pass each. The adapter is untrained (LoRA starts as "
        "the identity), so these are zero-shot translations; the two output layers can choose "
        "different tokens and so stop at different lengths (generated tokens), which weighs on "
        "the rate as much as speed does.",
        "",
        "## Trimmed vocabulary (vocabulary.trim=true)",
        "",
        f"{vocabulary['size']:,} of {vocabulary['full_size']:,} tokens kept "
        f"({vocabulary['kept_fraction']:.2%}): "
        + ", ".join(f"{name} {count:,}" for name, count in vocabulary["ids_by_source"].items())
        + f". Monolingual sample: {vocabulary['monolingual_sentences']:,} sentences ("
        + ", ".join(f"{k} {v:,}" for k, v in vocabulary["monolingual_offered"].items())
        + "). Test-reference tokens the trimmed layer can produce: "
        + ", ".join(f"{name} {share:.2%}" for name, share in coverage.items())
        + ".",
        "",
        "## Padding share (padded positions / all positions), whole splits",
        "",
        f"Training batches of {args.batch_size}, first epoch: random "
        f"{padding['train']['random']:.1%} -> length buckets "
        f"{padding['train']['length_buckets']:.1%}. In-domain test batches of "
        f"{args.eval_batch_size}: file order {padding['test']['file_order']:.1%} -> sorted by "
        f"length {padding['test']['length_buckets']:.1%}.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--slice-batches", type=int, default=4)
    parser.add_argument("--slice-rounds", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--test-sentences", type=int, default=48)
    parser.add_argument("--eval-batch-size", type=int, default=16)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--override", nargs="*", default=[], help="extra Hydra overrides")
    args = parser.parse_args()
    torch.manual_seed(0)

    bench = Bench(args)
    batch = fixed_length_batch(bench, args.batch_size, args.tokens)
    machine = "; ".join(f"{key}: {value}" for key, value in describe_machine().items()) + "."
    steps = time_steps(bench, batch["inputs"], args.rounds)
    print_table("1. training step", STEP_COLUMNS, steps)
    slices = time_training_slice(bench, args.slice_batches, args.batch_size, args.slice_rounds)
    print_table("2. same pairs, real batches", SLICE_COLUMNS, slices)
    inputs = batch["generation_inputs"]
    generation = time_fixed_generation(bench, inputs, args.new_tokens, args.rounds)
    print_table("3. generation", GENERATION_COLUMNS, generation)
    tests = time_test_generation(bench, args.test_sentences, args.eval_batch_size)
    print_table("4. test sentences", TEST_COLUMNS, tests)

    bench.data.eval_batch_size = args.eval_batch_size
    padding = bench.data.padding_shares()
    results = (steps, slices, generation, tests)
    args.output.mkdir(parents=True, exist_ok=True)
    report = markdown(args, bench, batch, results, padding, machine)
    write_text_atomic(args.output / "translation_speed.md", report)
    title = (
        f"Gemma-3-270M + LoRA, eng->hau, {torch.get_num_threads()} CPU threads "
        "(grey: the pipeline before)"
    )
    plot(*results, args.output / "translation_speed.png", title)
    print(args.output / "translation_speed.md")


if __name__ == "__main__":
    main()
