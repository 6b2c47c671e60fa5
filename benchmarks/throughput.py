"""Training and inference throughput of each default backbone and method, before and after each
speed-up, side by side in one process, against a peak measured on the same machine.

For EfficientNet-Lite0 (vision, 64 px PneumoniaMNIST images, batch 64) and MiniLM (clinical
text, MTSamples notes, batch 16), and for full fine-tuning, LoRA, BitFit, a Houlsby bottleneck
adapter and a linear probe, it measures:

1. channels-last (vision): examples/s of a training step (forward, loss, backward, AdamW) and
   of inference, channel-first against channels-last, on the same real batch;
2. the frozen-prefix feature cache (linear probe, both backbones): each epoch's seconds
   (training and validation, Lightning) with and without the cache, then a second run on the
   warm cache; and the README's PneumoniaMNIST linear-probe run end to end, before and after;
3. length bucketing (text): the padding share of every clinical dataset, and examples/s over the
   same notes in random batches against bucketed ones;
4. `torch.compile` (LoRA on both backbones): compile seconds, steady examples/s, and the steps
   after which it would pay;
5. the share of the peak: FLOPs of a step (torch's FLOP counter) times steps/s, over the best of a
   matmul and a channels-last convolution micro-benchmark.

Timed variants run interleaved (alternating which goes first) and the median is kept, so other
work on a shared machine falls on both alike; the load average is recorded before each section.
It also reruns one MedMNIST and one clinical cell with and without the changes (metrics beside
each other). Writes `throughput.md` and `throughput.png` (atomically) to the output folder.

    python -m benchmarks.throughput [--threads N] [--skip compile end_to_end] [--output DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count  # noqa: E402

from benchmarks.clinical_costs_report import describe_machine, load_average  # noqa: E402
from peftsuite.config import load_config  # noqa: E402
from peftsuite.runner import run_experiment  # noqa: E402
from pipelines.clinical_text.backbone import build_text_classifier  # noqa: E402
from pipelines.clinical_text.datamodule import TextClassificationDataModule  # noqa: E402
from pipelines.clinical_text.datasets import load_clinical_dataset  # noqa: E402
from pipelines.registry import prepare_pipeline  # noqa: E402
from pipelines.vision.backbones import build_image_classifier  # noqa: E402
from pipelines.vision.datamodule import ImageClassificationDataModule  # noqa: E402
from pipelines.vision.datasets import load_image_dataset  # noqa: E402
from shared.atomic import atomic_path, write_text_atomic  # noqa: E402
from shared.inject import inject_method  # noqa: E402
from shared.length_buckets import LengthBucketBatchSampler, padding_share  # noqa: E402
from shared.memory_format import batch_to_channels_last, to_channels_last  # noqa: E402
from shared.methods import method_config_from_mapping  # noqa: E402

REPOSITORY = Path(__file__).resolve().parents[1]
METHODS = ("full", "lora", "bitfit", "adapter_houlsby", "linear_probe")
VISION_LORA = {"r": 2}  # the README's PneumoniaMNIST LoRA command
CLINICAL_DATASETS = ("radlabels", "mtsamples", "symptom2disease", "medical_abstracts")
SECTIONS = ("peak", "threads", "vision", "text", "compile", "cache", "padding", "end_to_end")
README_RUN = ["experiment=pneumoniamnist_efficientnet_lite0", "method=linear_probe"]
# The "today's path": the README's PneumoniaMNIST LoRA command (r=2, 64 px, 3 epochs).
README_LORA = ["experiment=pneumoniamnist_efficientnet_lite0", "method=lora", "method.r=2"]
CLINICAL_CELL = ["method=lora"]  # the default run: LoRA on MiniLM, radlabels
BEFORE_VISION = ["data.channels_last=false", "data.feature_cache=false"]


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", default=os.environ.get("PEFTSUITE_DATA_DIR", "../shared/data")
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per variant")
    parser.add_argument("--text-batches", type=int, default=8, help="batches per text variant")
    parser.add_argument("--skip", nargs="*", default=[], choices=SECTIONS)
    parser.add_argument("--output", type=Path, default=REPOSITORY / "benchmarks" / "results")
    parser.add_argument(
        "--update",
        action="store_true",
        help="keep the sections of an existing throughput.json that this run skips",
    )
    return parser.parse_args(argv)


def quiet() -> None:
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    for name in ("lightning.pytorch", "lightning.fabric", "pipelines", "shared"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")


def interleaved(variants: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median seconds per call of each variant, called in turns (order alternating), after one
    untimed call each."""
    for call in variants.values():
        call()
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for repeat in range(repeats):
        for name in names if repeat % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            variants[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def convolution_backward_flops(
    grad_out_shape,
    x_shape,
    w_shape,
    _bias,
    _stride,
    _padding,
    _dilation,
    transposed,
    _output_padding,
    _groups,
    output_mask,
    out_shape=None,
    **kwargs,
) -> int:
    """Each gradient of a convolution costs what its forward does. torch's own formula counts
    a grouped (depthwise) weight gradient as if the convolution were dense: about `groups`
    times too much, which put full fine-tuning of EfficientNet above 100% of the peak."""
    forward = conv_flop_count(x_shape, w_shape, grad_out_shape, transposed)
    return forward * (int(output_mask[0]) + int(output_mask[1]))


def flops_of(call: Callable[[], Any]) -> int:
    mapping = {torch.ops.aten.convolution_backward: convolution_backward_flops}
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        call()
    return counter.get_total_flops()


class PeakMicrobenchmark:
    """A 1024^3 fp32 matmul and a 3x3 channels-last convolution (64 -> 64 channels, 32 x 56 x 56):
    the best rates this machine reaches on what the backbones are made of. They are timed beside
    every measured variant, in the same interleaved turns, so the share of peak is taken under
    the same load as the variant it divides."""

    def __init__(self) -> None:
        self.a, self.b = torch.randn(1024, 1024), torch.randn(1024, 1024)
        self.convolution = torch.nn.Conv2d(64, 64, 3, padding=1, bias=False).to(
            memory_format=torch.channels_last
        )
        self.images = batch_to_channels_last(torch.randn(32, 64, 56, 56))
        self.flops = {"matmul": 2 * 1024**3, "conv": 2 * 64 * 64 * 9 * 56 * 56 * 32}

    @torch.no_grad()
    def matmul(self) -> None:
        self.a @ self.b

    @torch.no_grad()
    def conv(self) -> None:
        self.convolution(self.images)

    def calls(self) -> dict[str, Callable[[], Any]]:
        return {"peak:matmul": self.matmul, "peak:conv": self.conv}

    def rates(self, seconds: dict[str, float]) -> dict[str, float]:
        """GFLOP/s of each micro-benchmark, taken out of `seconds`."""
        return {
            name: flops / seconds.pop(f"peak:{name}") / 1e9 for name, flops in self.flops.items()
        }


def timed(
    variants: dict[str, Callable[[], Any]], repeats: int, peak: PeakMicrobenchmark
) -> tuple[dict[str, float], float]:
    """Median seconds of each variant, and the peak GFLOP/s measured in the same turns."""
    seconds = interleaved({**variants, **peak.calls()}, repeats)
    return seconds, max(peak.rates(seconds).values())


def measure_peak(peak: PeakMicrobenchmark, repeats: int) -> dict[str, float]:
    rates = peak.rates(interleaved(peak.calls(), repeats))
    return {**rates, "peak": max(rates.values())}


def training_mode(model: torch.nn.Module, method: str) -> torch.nn.Module:
    """As `PeftModule.on_fit_start`: train mode, BatchNorm statistics frozen unless full FT."""
    model.train()
    if not method_config_from_mapping({"name": method}).train_batchnorm_statistics:
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.eval()
    return model


def logits(model: torch.nn.Module, inputs: Any) -> torch.Tensor:
    output = model(**inputs) if isinstance(inputs, dict) else model(inputs)
    return output.logits if hasattr(output, "logits") else output


def step_and_inference(model: torch.nn.Module, method: str, batches: list, labels: list):
    """A training step over `batches` in turn, and inference over them, as callables."""
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def train() -> None:
        training_mode(model, method)
        for inputs, target in zip(batches, labels, strict=True):
            scores = logits(model, inputs)
            if target.dim() == 2:  # multilabel (radlabels)
                loss = torch.nn.functional.binary_cross_entropy_with_logits(scores, target.float())
            else:
                loss = torch.nn.functional.cross_entropy(scores, target)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()

    @torch.no_grad()
    def infer() -> None:
        model.eval()
        for inputs in batches:
            logits(model, inputs)

    return train, infer


def share(flops: int, seconds: float, peak_gflops: float) -> float:
    return flops / seconds / 1e9 / peak_gflops


def vision_batch(args: argparse.Namespace, size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    splits = load_image_dataset("pneumoniamnist", args.data_dir, seed=0)
    data = ImageClassificationDataModule(
        splits,
        image_size=64,
        mean=(0.5,) * 3,
        std=(0.5,) * 3,
        augment=False,
        batch_size=size,
        eval_batch_size=size,
    )
    data.setup("fit")
    return data.datasets["train"].cached[:size], data.datasets["train"].labels[:size]


def vision_model(method: str, channels_last: bool) -> torch.nn.Module:
    torch.manual_seed(0)
    backbone = build_image_classifier("efficientnet_lite0", num_classes=2)
    if channels_last:
        to_channels_last(backbone.model)
    settings = {"name": method, **(VISION_LORA if method == "lora" else {})}
    return inject_method(backbone.model, settings, head_modules=backbone.head_modules)[0]


def vision_rows(args: argparse.Namespace, peak: PeakMicrobenchmark) -> list[dict[str, Any]]:
    images, labels = vision_batch(args)
    rows = []
    for method in METHODS:
        calls = {}
        for name, channels_last in (("before", False), ("after", True)):
            batch = batch_to_channels_last(images) if channels_last else images
            calls[name] = step_and_inference(
                vision_model(method, channels_last), method, [batch], [labels]
            )
        train, train_peak = timed({k: pair[0] for k, pair in calls.items()}, args.repeats, peak)
        infer, infer_peak = timed({k: pair[1] for k, pair in calls.items()}, args.repeats, peak)
        train_flops, infer_flops = flops_of(calls["after"][0]), flops_of(calls["after"][1])
        rows.append(
            {
                "backbone": "efficientnet_lite0",
                "method": method,
                "change": "channels-last",
                "load": load_average(),
                **throughput_columns(len(labels), train, infer),
                "train_share": share(train_flops, train["after"], train_peak),
                "infer_share": share(infer_flops, infer["after"], infer_peak),
                "peak": train_peak,
            }
        )
        print_row(rows[-1])
    return rows


def thread_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    """EfficientNet-Lite0 LoRA training steps with every core's thread and with one, in both
    layouts: on a shared machine, threads that wait for each other's cores cost more than they
    give. The suite's default is torch's (one thread per core) and channel-first."""
    images, labels = vision_batch(args)
    variants = {}
    for layout, channels_last in (("channel-first", False), ("channels-last", True)):
        batch = batch_to_channels_last(images) if channels_last else images
        train, _ = step_and_inference(
            vision_model("lora", channels_last), "lora", [batch], [labels]
        )
        for threads in sorted({os.cpu_count() or 1, 1}, reverse=True):
            variants[f"{threads} thread(s), {layout}"] = with_threads(threads, train)
    seconds = interleaved(variants, args.repeats)
    rows = [
        {"variant": name, "train": len(labels) / value, "load": load_average()}
        for name, value in seconds.items()
    ]
    for row in rows:
        print(f"    threads: {row['variant']}: {row['train']:.1f} ex/s", flush=True)
    return rows


def with_threads(threads: int, call: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return call()
        finally:
            torch.set_num_threads(before)

    return run


def throughput_columns(examples: int, train: dict, infer: dict) -> dict[str, float]:
    return {
        "train_before": examples / train["before"],
        "train_after": examples / train["after"],
        "infer_before": examples / infer["before"],
        "infer_after": examples / infer["after"],
    }


def print_row(row: dict[str, Any]) -> None:
    print(
        f"{row['backbone']:>18} {row['method']:>16} {row['change']:>14}: train "
        f"{row['train_before']:7.1f} -> {row['train_after']:7.1f} ex/s, inference "
        f"{row['infer_before']:7.1f} -> {row['infer_after']:7.1f} ex/s, peak share "
        f"{row['train_share']:.1%} / {row['infer_share']:.1%}  (load {row['load']})",
        flush=True,
    )


def text_data(args, max_length: int, dataset: str = "mtsamples") -> TextClassificationDataModule:
    splits = load_clinical_dataset(dataset, args.data_dir, seed=0)
    tokenizer = build_text_classifier("minilm", num_labels=2, multilabel=False)[1]
    data = TextClassificationDataModule(
        splits, tokenizer, max_length=max_length, batch_size=16, eval_batch_size=64
    )
    data.setup("fit")
    return data


def text_batches(data: TextClassificationDataModule, count: int, bucketed: bool) -> tuple:
    """`count` training batches over the same notes: random batches, or bucketed ones."""
    chosen = np.random.default_rng(0).permutation(len(data.datasets["train"]))[: 16 * count]
    lengths = np.asarray(data.datasets["train"].lengths)[chosen]
    if bucketed:
        groups = LengthBucketBatchSampler(lengths, 16, seed=0).batches()
    else:
        groups = [list(range(i, i + 16)) for i in range(0, len(chosen), 16)]
    batches = [data.collate([data.datasets["train"][int(chosen[i])] for i in g]) for g in groups]
    return (
        [b["inputs"] for b in batches],
        [b["labels"] for b in batches],
        padding_share(lengths, groups),
    )


def text_model(method: str, labels: int) -> torch.nn.Module:
    torch.manual_seed(0)
    model, _ = build_text_classifier("minilm", num_labels=labels, multilabel=False)
    return inject_method(model, {"name": method}, head_modules=["classifier"])[0]


def text_rows(
    args, peak, max_length: int, methods=METHODS, dataset: str = "mtsamples"
) -> list[dict[str, Any]]:
    data = text_data(args, max_length, dataset)
    variants = {
        name: text_batches(data, args.text_batches, name == "after") for name in ("before", "after")
    }
    examples = 16 * args.text_batches
    rows = []
    for method in methods:
        model = text_model(method, len(data.splits.label_names))
        calls = {
            name: step_and_inference(model, method, inputs, labels)
            for name, (inputs, labels, _) in variants.items()
        }
        repeats = max(2, args.repeats // 2)
        train, train_peak = timed({k: pair[0] for k, pair in calls.items()}, repeats, peak)
        infer, infer_peak = timed({k: pair[1] for k, pair in calls.items()}, repeats, peak)
        rows.append(
            {
                "backbone": f"minilm ({dataset}, {max_length} tokens)",
                "method": method,
                "change": "length buckets",
                "load": load_average(),
                **throughput_columns(examples, train, infer),
                "train_share": share(flops_of(calls["after"][0]), train["after"], train_peak),
                "infer_share": share(flops_of(calls["after"][1]), infer["after"], infer_peak),
                "peak": train_peak,
                "padding_before": variants["before"][2],
                "padding_after": variants["after"][2],
            }
        )
        print_row(rows[-1])
    return rows


def compile_rows(args, peak) -> list[dict[str, Any]]:
    """LoRA through torch.compile (inductor) against eager, after the other changes."""
    images, labels = vision_batch(args)
    text = text_data(args, 128)
    inputs, text_labels, _ = text_batches(text, 4, bucketed=True)
    cases = {
        "efficientnet_lite0": (
            lambda: vision_model("lora", True),
            [batch_to_channels_last(images)],
            [labels],
            64,
        ),
        "minilm (mtsamples, 128 tokens)": (
            lambda: text_model("lora", len(text.splits.label_names)),
            inputs,
            text_labels,
            64,
        ),
    }
    rows = []
    for backbone, (build, batches, targets, examples) in cases.items():
        eager, compiled_model = build(), build()
        compiled = torch.compile(compiled_model)
        eager_train, eager_infer = step_and_inference(eager, "lora", batches, targets)
        compiled_train, compiled_infer = step_and_inference(compiled, "lora", batches, targets)
        start = time.perf_counter()
        compiled_train()
        compiled_infer()
        compile_seconds = time.perf_counter() - start
        train, train_peak = timed(
            {"before": eager_train, "after": compiled_train}, args.repeats, peak
        )
        infer, infer_peak = timed(
            {"before": eager_infer, "after": compiled_infer}, args.repeats, peak
        )
        saved = train["before"] - train["after"]
        rows.append(
            {
                "backbone": backbone,
                "method": "lora",
                "change": "torch.compile",
                "load": load_average(),
                **throughput_columns(examples, train, infer),
                "train_share": share(flops_of(eager_train), train["after"], train_peak),
                "infer_share": share(flops_of(eager_infer), infer["after"], infer_peak),
                "peak": train_peak,
                "compile_seconds": compile_seconds,
                "break_even_steps": compile_seconds / saved if saved > 0 else None,
            }
        )
        print_row(rows[-1])
        print(
            f"    compile {compile_seconds:.0f} s, pays after {rows[-1]['break_even_steps']} steps"
        )
    return rows


class EpochTimer(lightning.Callback):
    """Seconds of each training epoch, its validation included."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def on_train_epoch_start(self, trainer, module) -> None:
        self.start = time.perf_counter()

    def on_train_epoch_end(self, trainer, module) -> None:
        self.seconds.append(time.perf_counter() - self.start)


def timed_epochs(overrides: list[str], epochs: int = 3) -> list[float]:
    """Epoch seconds of a run of `overrides`, prepared as the runner prepares it."""
    config = load_config([*overrides, f"trainer.max_epochs={epochs}"])
    lightning.seed_everything(0, verbose=False)
    prepared = prepare_pipeline(config)
    method = method_config_from_mapping({"name": config.method.name})
    model, report = inject_method(prepared.model, method, head_modules=prepared.head_modules)
    module = prepared.build_module(model, report, learning_rate=1e-3, weight_decay=0.0)
    timer = EpochTimer()
    trainer = lightning.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
        num_sanity_val_steps=0,
    )
    trainer.fit(module, datamodule=prepared.datamodule)
    return timer.seconds


def cache_rows(args) -> list[dict[str, Any]]:
    cases = {
        "efficientnet_lite0": [
            "pipeline=vision",
            *README_RUN[1:],
            f"data.data_dir={args.data_dir}",
        ],
        "minilm": [
            "pipeline=clinical_text",
            "data=mtsamples",
            "method=linear_probe",
            f"data.data_dir={args.data_dir}",
        ],
    }
    rows = []
    for backbone, overrides in cases.items():
        print(f"linear-probe epochs, {backbone} (load {load_average()})", flush=True)
        uncached = timed_epochs([*overrides, "data.feature_cache=false"])
        cold = timed_epochs(overrides)
        warm = timed_epochs(overrides)
        rows.append(
            {
                "backbone": backbone,
                "uncached": uncached,
                "cold": cold,
                "warm": warm,
                "load": load_average(),
            }
        )
        print(f"    uncached {uncached}, cached {cold}, warm cache {warm}", flush=True)
    return rows


def padding_rows(args) -> list[dict[str, Any]]:
    rows = []
    for dataset in CLINICAL_DATASETS:
        for max_length in (128, 512):
            try:
                data = text_data(args, max_length, dataset)
            except (OSError, ValueError) as error:
                print(f"    {dataset}: skipped ({error})")
                break
            rows.append(
                {
                    "dataset": dataset,
                    "max_length": max_length,
                    "examples": len(data.datasets["train"]),
                    "before": data.padding_share("train", bucketed=False),
                    "after": data.padding_share("train", bucketed=True),
                }
            )
            print(
                f"    padding {dataset} {max_length}: "
                f"{rows[-1]['before']:.1%} -> {rows[-1]['after']:.1%}"
            )
    return rows


def end_to_end_rows(args, runs: Path) -> list[dict[str, Any]]:
    """The README's PneumoniaMNIST linear probe and a clinical LoRA cell, before and after."""
    common = [f"data.data_dir={args.data_dir}", "trainer.enable_progress_bar=false"]
    cases = [
        (
            "pneumoniamnist linear probe",
            README_RUN,
            BEFORE_VISION,
            ["after (cold cache)", "after (warm cache)"],
        ),
        ("radlabels LoRA (default run)", CLINICAL_CELL, ["data.bucket_by_length=false"], ["after"]),
        ("pneumoniamnist LoRA r=2 (README)", README_LORA, ["data.channels_last=false"], ["after"]),
    ]
    rows = []
    for cell, overrides, before, afters in cases:
        for label, extra in [("before", before), *[(name, []) for name in afters]]:
            print(f"end to end: {cell}, {label} (load {load_average()})", flush=True)
            name = re.sub(r"[^A-Za-z0-9]+", "_", f"{cell} {label} {len(rows)}")
            config = load_config(
                [*overrides, *common, *extra, f"run.output_dir={runs}", f"run.name={name}"]
            )
            start = time.perf_counter()
            directory = run_experiment(config)
            seconds = time.perf_counter() - start
            written = json.loads((directory / "metrics.json").read_text())
            metrics = written["test"]
            rows.append(
                {
                    "cell": cell,
                    "variant": label,
                    "seconds": seconds,
                    "train_examples_per_second": written["costs"]["train_samples_per_second"],
                    "auroc": metrics["auroc_macro"],
                    "accuracy": metrics["accuracy"],
                    "load": load_average(),
                }
            )
            print(
                f"    {seconds:.0f} s, AUROC {metrics['auroc_macro']:.4f}, "
                f"accuracy {metrics['accuracy']:.4f}"
            )
    return rows


def qualifying_methods() -> dict[str, dict[str, str]]:
    """For each default backbone and method: the frozen-prefix cut, or why there is none."""
    from shared.frozen_prefix import FrozenPrefix, find_frozen_prefix

    builders = {
        "efficientnet_lite0": lambda method: vision_model(method, False),
        "minilm": lambda method: text_model(method, 2),
    }
    table: dict[str, dict[str, str]] = {}
    for backbone, build in builders.items():
        for method in METHODS:
            model = build(method)
            statistics = method_config_from_mapping({"name": method}).train_batchnorm_statistics
            found = find_frozen_prefix(model, train_batchnorm_statistics=statistics)
            cell = f"cached below `{found.cut_name}`" if isinstance(found, FrozenPrefix) else found
            table.setdefault(method, {})[backbone] = cell
    return table


def ratio(after: float, before: float) -> str:
    return f"{after / before:.2f}x" if before else "n/a"


def throughput_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| backbone | method | change | train ex/s before | after | ratio | inference ex/s "
        "before | after | ratio | share of peak (train / inference, after) | peak GFLOP/s "
        "(same turns) | load (1/5/15) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['backbone']} | {r['method']} | {r['change']} | {r['train_before']:.1f} | "
            f"{r['train_after']:.1f} | {ratio(r['train_after'], r['train_before'])} | "
            f"{r['infer_before']:.1f} | {r['infer_after']:.1f} | "
            f"{ratio(r['infer_after'], r['infer_before'])} | {r['train_share']:.1%} / "
            f"{r['infer_share']:.1%} | {r['peak']:.1f} | {r['load']} |"
        )
    return lines


def find(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def verdict(met: bool) -> str:
    return "**met**" if met else "**not met**"


def targets(results: dict[str, Any]) -> list[str]:
    """The issue's targets, each with the measurement it is judged by."""
    lines = ["## Targets", ""]
    lora = find(results.get("vision", []), method="lora")
    threads = {r["variant"]: r["train"] for r in results.get("threads", [])}
    today = next(
        (v for k, v in threads.items() if "channel-first" in k and "1 thread" not in k), None
    )
    if lora:
        gain = lora["train_after"] / lora["train_before"]
        lines.append(
            f"- EfficientNet-Lite0 64 px LoRA training >= 3x: channels-last gives {gain:.2f}x at "
            f"the same thread count {verdict(gain >= 3)}"
            + (
                f"; against today's default (all threads, channel-first, {today:.1f} ex/s) the "
                f"best variant above reaches {max(threads.values()) / today:.2f}x"
                if today
                else ""
            )
            + "."
        )
    for r in results.get("cache", []):
        gain = r["cold"][0] / statistics.median(r["cold"][1:])
        lines.append(
            f"- Linear probe on {r['backbone']}: epochs after the first {gain:.0f}x faster than "
            f"the first {verdict(gain >= 10)}."
        )
    runs = results.get("end_to_end", [])
    before = find(runs, cell="pneumoniamnist linear probe", variant="before")
    for variant in ("after (cold cache)", "after (warm cache)"):
        after = find(runs, cell="pneumoniamnist linear probe", variant=variant)
        if before and after:
            gain = before["seconds"] / after["seconds"]
            lines.append(
                f"- README PneumoniaMNIST linear-probe run end to end, {variant}: {gain:.2f}x "
                f"{verdict(gain >= 3)} (test AUROC {before['auroc']:.4f} before, "
                f"{after['auroc']:.4f} after)."
            )
    for max_length in (128, 512):
        padding = find(results.get("padding", []), dataset="mtsamples", max_length=max_length)
        text = find(
            results.get("text", []),
            method="lora",
            backbone=f"minilm (mtsamples, {max_length} tokens)",
        )
        if padding and text:
            gain = text["train_after"] / text["train_before"]
            lines.append(
                f"- MiniLM on MTSamples at {max_length} tokens: padding {padding['before']:.1%} -> "
                f"{padding['after']:.1%} {verdict(padding['after'] <= 0.15)}; LoRA training "
                f"{gain:.2f}x {verdict(gain >= 1.5)} (the notes are mostly longer than "
                f"{max_length} tokens, so random batches were already {padding['before']:.0%} "
                "padding: no grouping can save more than that)."
            )
    clinical = [r for r in runs if r["cell"].startswith("radlabels LoRA")]
    if len(clinical) == 2:
        lines.append(
            f"- The default run (radlabels LoRA) with and without buckets: "
            f"{clinical[0]['seconds']:.0f} s -> {clinical[1]['seconds']:.0f} s; test AUROC "
            f"{clinical[0]['auroc']:.4f} -> {clinical[1]['auroc']:.4f}, accuracy "
            f"{clinical[0]['accuracy']:.4f} -> {clinical[1]['accuracy']:.4f} (buckets change "
            "which notes share a batch, so a seed-noise difference is expected)."
        )
    return [*lines, ""]


def markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    lines = [
        "# Throughput: channels-last, cached frozen features, length buckets, torch.compile",
        "",
        "Written by `python -m benchmarks.throughput`; every number below was measured in that one "
        "process, variants interleaved (median of alternating calls). The machine is shared: "
        "the load average is given per row, and ratios are more trustworthy than absolute rates.",
        "",
        *[f"- {key}: {value}" for key, value in machine.items()],
        *[
            f"- section `{section}` rerun later (`--update`): "
            + ", ".join(f"{key} {value}" for key, value in facts.items())
            for section, facts in results.get("machines", {}).items()
        ],
        "",
    ]
    if "peak" in results:
        peak = results["peak"]
        lines += [
            f"Peak at the start: {peak['peak']:.1f} GFLOP/s (fp32 1024^3 matmul "
            f"{peak['matmul']:.1f}, 3x3 channels-last convolution {peak['conv']:.1f}). Each row's "
            "share of peak is the step's FLOPs (torch's FLOP counter: convolutions and matmuls) "
            "times steps/s, over the better of the two micro-benchmarks timed in the same "
            "interleaved turns as that row (its own column), so both see the same load.",
            "",
        ]
    lines += targets(results)
    if "threads" in results:
        lines += [
            "## Threads: EfficientNet-Lite0 LoRA (r=2) training, 64 px, batch 64",
            "",
            "| variant | training ex/s | load |",
            "|---|---:|---|",
            *[f"| {r['variant']} | {r['train']:.1f} | {r['load']} |" for r in results["threads"]],
            "",
        ]
    rows = results.get("vision", []) + results.get("text", []) + results.get("compile", [])
    if rows:
        lines += ["## Training and inference examples/s", "", *throughput_table(rows), ""]
        compiled = [r for r in results.get("compile", [])]
        for r in compiled:
            lines.append(
                f"- torch.compile, {r['backbone']} LoRA: compile {r['compile_seconds']:.0f} s; "
                + (
                    f"pays for itself after {r['break_even_steps']:.0f} training steps."
                    if r["break_even_steps"]
                    else "steady training is not faster, so it never pays."
                )
            )
        lines.append("")
    if "padding" in results:
        lines += [
            "## Padding share of the training batches (batch 16)",
            "",
            "| dataset | max tokens | notes | random batches | length buckets |",
            "|---|---:|---:|---:|---:|",
            *[
                f"| {r['dataset']} | {r['max_length']} | {r['examples']} | {r['before']:.1%} | "
                f"{r['after']:.1%} |"
                for r in results["padding"]
            ],
            "",
        ]
    if "cache" in results:
        lines += [
            "## Linear probe: epoch seconds (training + validation), 3 epochs",
            "",
            "| backbone | no cache | cache, first run | cache, second run (warm) | "
            "first / later epochs (first run) |",
            "|---|---|---|---|---:|",
        ]
        for r in results["cache"]:
            later = statistics.median(r["cold"][1:])
            lines.append(
                f"| {r['backbone']} | {' / '.join(f'{s:.1f}' for s in r['uncached'])} | "
                f"{' / '.join(f'{s:.1f}' for s in r['cold'])} | "
                f"{' / '.join(f'{s:.1f}' for s in r['warm'])} | {r['cold'][0] / later:.1f}x |"
            )
        lines.append("")
    if "end_to_end" in results:
        lines += [
            "## Whole runs with and without the changes (`peftsuite run`, in this process)",
            "",
            "| cell | variant | seconds | training ex/s | test AUROC | test accuracy | load |",
            "|---|---|---:|---:|---:|---:|---|",
            *[
                f"| {r['cell']} | {r['variant']} | {r['seconds']:.0f} | "
                f"{r.get('train_examples_per_second', float('nan')):.1f} | {r['auroc']:.4f} | "
                f"{r['accuracy']:.4f} | {r['load']} |"
                for r in results["end_to_end"]
            ],
            "",
        ]
    if "qualifying" in results:
        backbones = sorted({b for cells in results["qualifying"].values() for b in cells})
        lines += [
            "## Which methods get the feature cache (defaults)",
            "",
            f"| method | {' | '.join(backbones)} |",
            f"|---|{'---|' * len(backbones)}",
            *[
                f"| {method} | {' | '.join(cells[b] for b in backbones)} |"
                for method, cells in results["qualifying"].items()
            ],
            "",
        ]
    return "\n".join(lines) + "\n"


def plot(results: dict[str, Any], path: Path) -> None:
    rows = results.get("vision", []) + results.get("text", []) + results.get("compile", [])
    panels = [bool(rows), "cache" in results, "padding" in results]
    figure, axes = plt.subplots(1, sum(panels), figsize=(6 * sum(panels), 5), squeeze=False)
    axes = list(axes[0])
    if rows:
        axis = axes.pop(0)
        labels = [f"{r['backbone'].split(' ')[0]}\n{r['method']}\n{r['change']}" for r in rows]
        positions = np.arange(len(rows))
        axis.barh(positions - 0.2, [r["train_before"] for r in rows], 0.4, label="before")
        axis.barh(positions + 0.2, [r["train_after"] for r in rows], 0.4, label="after")
        axis.set_yticks(positions, labels, fontsize=6)
        axis.set_xscale("log")
        axis.set_xlabel("training examples/s")
        axis.legend()
    if "cache" in results:
        axis = axes.pop(0)
        for r in results["cache"]:
            for key, style in (("uncached", "--"), ("cold", "-"), ("warm", ":")):
                axis.plot(
                    range(1, len(r[key]) + 1),
                    r[key],
                    style,
                    marker="o",
                    label=f"{r['backbone']}, {key}",
                )
        axis.set_yscale("log")
        axis.set_xlabel("epoch")
        axis.set_ylabel("seconds (training + validation)")
        axis.set_title("linear probe")
        axis.legend(fontsize=7)
    if "padding" in results:
        axis = axes.pop(0)
        labels = [f"{r['dataset']}\n{r['max_length']}" for r in results["padding"]]
        positions = np.arange(len(labels))
        axis.bar(positions - 0.2, [r["before"] for r in results["padding"]], 0.4, label="random")
        axis.bar(positions + 0.2, [r["after"] for r in results["padding"]], 0.4, label="buckets")
        axis.set_xticks(positions, labels, fontsize=7)
        axis.set_ylabel("padding share")
        axis.legend()
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> None:
    args = parse_arguments(argv)
    quiet()
    if args.threads:
        torch.set_num_threads(args.threads)
    previous = args.output / "throughput.json"
    results: dict[str, Any] = json.loads(previous.read_text()) if args.update else {}
    run = [section for section in SECTIONS if section not in args.skip]
    if args.update:  # each section keeps the machine line it was measured under
        results.setdefault("machines", {}).update({s: describe_machine() for s in run})
    results["machine"] = results.get("machine") or describe_machine()
    args.output.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after every section, so a failure late in the run keeps the rest
        text = json.dumps(results, indent=2, default=str) + "\n"
        write_text_atomic(args.output / "throughput.json", text)

    with tempfile.TemporaryDirectory(prefix="throughput-") as scratch:
        # Feature stores of this benchmark only, so a "cold" cache is cold.
        os.environ["PEFTSUITE_CACHE_DIR"] = str(Path(scratch) / "cache")
        peak = PeakMicrobenchmark()
        results["peak"] = measure_peak(peak, args.repeats)
        print(f"peak {results['peak']}", flush=True)
        if "threads" in run:
            results["threads"] = thread_rows(args)
            save()
        if "vision" in run:
            results["vision"] = vision_rows(args, peak)
            save()
        if "text" in run:
            results["text"] = (
                text_rows(args, peak, 128)
                + text_rows(args, peak, 512, ("lora",))
                + text_rows(args, peak, 128, ("lora",), dataset="radlabels")
            )
            save()
        if "compile" in run:
            results["compile"] = compile_rows(args, peak)
            save()
        if "padding" in run:
            results["padding"] = padding_rows(args)
            save()
        if "cache" in run:
            results["cache"] = cache_rows(args)
            save()
        if "end_to_end" in run:
            os.environ["PEFTSUITE_CACHE_DIR"] = str(Path(scratch) / "end_to_end_cache")
            results["end_to_end"] = end_to_end_rows(args, Path(scratch) / "runs")
        results["qualifying"] = qualifying_methods()
    save()
    write_text_atomic(args.output / "throughput.md", markdown(results))
    plot(results, args.output / "throughput.png")
    print(markdown(results))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
