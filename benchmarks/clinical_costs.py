"""What a PEFT method costs on clinical text, and what the suite's training loop costs on top.

A method's accuracy is half of its story; the other half is what it asks of the machine. This
benchmark measures, in one run, for MiniLM on one clinical dataset (real tokenised reports):

1. full fine-tuning, LoRA and a Houlsby bottleneck adapter side by side: trainable parameters,
   peak memory, median step time (forward, loss, backward, AdamW step, zero_grad) and
   throughput. Each method runs in its own fresh subprocess (`--worker METHOD`, JSON on stdout),
   so a process-lifetime peak such as CPU peak RSS belongs to that method alone.
2. the suite's loop (`lightning.Trainer` fitting `PeftClassifier`, with the `CostTracker` callback
   every run has) against a minimal hand-written torch + peft loop, on two identical LoRA models,
   the same fixed batch and the same AdamW settings. Both are timed the same way: from the start
   of one batch to the start of the next, so everything done per step counts (fetching the batch,
   hooks, logging) and one-off Trainer setup does not. The loops run in short interleaved blocks,
   alternating which goes first, so that other work on the machine falls on both alike.

3. memory by category for each method (`shared.memory_categories`): frozen and trainable
   weights, gradients, AdamW state, activations and temporaries at their peaks in one steady
   training step, against the floor (frozen weights + activations + trainable weights, their
   gradients and AdamW moments), beside the peak RSS (or CUDA max allocated) of the same run.
   Each method runs in its own fresh subprocess (`--memory-worker METHOD`): the suite's loop
   (`Trainer` fitting `PeftClassifier`, with `CostTracker`) on one real batch, repeated, with a
   `MemoryCategoryProbe` watching its first two optimizer steps (the second is reported); then
   the same fit again without the probe, which must end bit-identical.

Every timing comes with a CPU share (process CPU time over wall time times threads) that shows
whether the run had the cores to itself. It prints rich tables and writes `clinical_costs.md`
and `clinical_costs.png`, and `clinical_costs_memory.md`, `.png` and `.json` (atomically) to
the output folder. `--memory-only` measures and writes the memory part alone (a few steps per
method). Every number comes from the run that writes it.

    python -m benchmarks.clinical_costs [--dataset radlabels] [--steps 10] [--output DIR]
    python -m benchmarks.clinical_costs --memory-only
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import itertools
import json
import logging
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning
import numpy as np
import psutil
import torch
import transformers
from omegaconf import OmegaConf
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch import nn
from torch.utils.data import DataLoader, Dataset

from benchmarks.clinical_costs_report import (
    busy_warning,
    describe_machine,
    floor_table,
    load_average,
    markdown_report,
    measurement_notes,
    memory_category_table,
    memory_markdown_report,
    memory_notes,
    method_table,
    overhead_table,
    plot,
    plot_memory,
    rich_table,
    verdict,
)
from pipelines.clinical_text.backbone import build_text_classifier, resolve_encoder_path
from pipelines.clinical_text.datamodule import TextClassificationDataModule
from pipelines.clinical_text.datasets import load_clinical_dataset
from shared.atomic import write_json_atomic, write_text_atomic
from shared.costs import CostTracker, peak_memory_megabytes
from shared.datasets import dataset_names
from shared.inject import InjectionReport, inject_method
from shared.lightning_module import PeftClassifier
from shared.memory_categories import MemoryCategoryProbe
from shared.methods import method_config_from_mapping

REPOSITORY = Path(__file__).resolve().parents[1]
CONFIGS = REPOSITORY / "configs"
MODEL_NAME = "minilm"
HEAD_MODULES = ["classifier"]
METHODS = ("full", "lora", "adapter_houlsby")
OVERHEAD_METHOD = "lora"
MEBIBYTE = 2**20
# The probe watches steps 1 and 2 and reports 2, the first steady one; step 3 ends step 2's clock.
MEMORY_STEPS = 3

Batch = dict[str, Any]


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="radlabels", choices=dataset_names("clinical_text"))
    parser.add_argument("--data-dir", default=None, help="folder holding clinical_text/ files")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per method")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before the first")
    parser.add_argument("--repeats", type=int, default=6, help="interleaved blocks per loop")
    parser.add_argument("--block-steps", type=int, default=5, help="timed steps per block")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=REPOSITORY / "benchmarks" / "results")
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="only memory by category (a few training steps per method, no timing)",
    )
    parser.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--memory-worker", choices=METHODS, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if min(arguments.steps, arguments.block_steps) < 1 or arguments.warmup < 0:
        parser.error("need --steps >= 1, --block-steps >= 1 and --warmup >= 0")
    if arguments.repeats < 1:
        parser.error("need --repeats >= 1")
    return arguments


def quiet_libraries() -> None:
    """Keep the output to the benchmark's own: no load reports, banners or loader advice."""
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
    warnings.filterwarnings("ignore", message=".*no `val_dataloader`.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@functools.cache
def suite_settings() -> dict[str, Any]:
    """The optimizer and trainer settings a default suite run uses."""
    return {
        "weight_decay": OmegaConf.load(CONFIGS / "config.yaml").optim.weight_decay,
        "trainer": OmegaConf.to_container(OmegaConf.load(CONFIGS / "trainer" / "default.yaml")),
    }


def load_tokenizer() -> transformers.PreTrainedTokenizerBase:
    """The encoder's tokenizer alone, so data is ready before any model memory is taken."""
    return transformers.AutoTokenizer.from_pretrained(
        resolve_encoder_path(MODEL_NAME), local_files_only=True
    )


def load_batches(arguments: argparse.Namespace, count: int) -> tuple[list[Batch], list[str], bool]:
    """`count` full training batches, tokenised and padded as the pipeline does, in order.

    Returns the batches, the label names and whether the task is multilabel.
    """
    splits = load_clinical_dataset(arguments.dataset, arguments.data_dir, seed=arguments.seed)
    datamodule = TextClassificationDataModule(
        splits,
        load_tokenizer(),
        max_length=arguments.max_length,
        batch_size=arguments.batch_size,
        eval_batch_size=arguments.batch_size,
    )
    datamodule.setup("fit")
    loader = DataLoader(
        datamodule.datasets["train"],
        batch_size=arguments.batch_size,
        collate_fn=datamodule.collate,
        drop_last=True,
    )
    if len(loader) == 0:
        raise ValueError(
            f"--batch-size {arguments.batch_size} exceeds the {len(splits.train)} training "
            f"examples of {arguments.dataset}; use a smaller batch."
        )
    batches = list(itertools.islice(itertools.cycle(loader), count))
    return batches, splits.label_names, splits.multilabel


def to_device(batch: Batch, device: torch.device) -> Batch:
    inputs = {key: value.to(device) for key, value in batch["inputs"].items()}
    return {"inputs": inputs, "labels": batch["labels"].to(device)}


def build_model(
    method: str, num_labels: int, multilabel: bool, seed: int
) -> tuple[nn.Module, InjectionReport, float]:
    """MiniLM with `method` injected with its registered defaults (what `method=METHOD` gives a
    suite run); same seed, same model.

    Returns the model, the injection report and the method's learning rate.
    """
    torch.manual_seed(seed)
    model, _ = build_text_classifier(MODEL_NAME, num_labels=num_labels, multilabel=multilabel)
    config = method_config_from_mapping({"name": method})
    model, report = inject_method(model, config, head_modules=HEAD_MODULES)
    return model, report, config.learning_rate


def make_optimizer(model: nn.Module, learning_rate: float, weight_decay: float):
    trainable = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(trainable, lr=learning_rate, weight_decay=weight_decay)


def classification_loss(logits: torch.Tensor, labels: torch.Tensor, multilabel: bool):
    if multilabel:
        return nn.functional.binary_cross_entropy_with_logits(logits, labels.float())
    return nn.functional.cross_entropy(logits, labels)


def train_step(model: nn.Module, optimizer, batch: Batch, multilabel: bool) -> None:
    logits = model(**batch["inputs"]).logits
    classification_loss(logits, batch["labels"], multilabel).backward()
    optimizer.step()
    optimizer.zero_grad()


def stamp(device: torch.device) -> tuple[float, float]:
    """(wall, CPU) seconds now, once the device is idle; CPU counts all this process's threads."""
    synchronize(device)
    return time.perf_counter(), time.process_time()


def summarize(steps: np.ndarray) -> dict[str, float]:
    """Median, quartiles and IQR of the wall time per step, in milliseconds, and the CPU share.

    Args:
        steps: (N, 2) seconds per step, wall then CPU.

    The CPU share, CPU time over wall time times torch's thread count, is near 1 when this
    process had the cores to itself and drops when other work took them.
    """
    wall, cpu = steps[:, 0], steps[:, 1]
    low, median, high = (float(q) for q in np.percentile(wall * 1000, [25, 50, 75]))
    return {
        "median_ms": median,
        "q1_ms": low,
        "q3_ms": high,
        "iqr_ms": high - low,
        "steps": len(steps),
        "cpu_share": float(cpu.sum() / (wall.sum() * torch.get_num_threads())),
    }


def memory_baseline(device: torch.device) -> float:
    """Memory in use now, in MiB: allocated CUDA memory, or the process's resident set."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device) / MEBIBYTE
    return psutil.Process().memory_info().rss / MEBIBYTE


def measure_method(arguments: argparse.Namespace) -> dict[str, Any]:
    """One method's costs in this (fresh) process: the worker's whole job."""
    device = pick_device()
    batches, label_names, multilabel = load_batches(arguments, arguments.warmup + arguments.steps)
    batches = [to_device(batch, device) for batch in batches]
    baseline = memory_baseline(device)
    model, report, learning_rate = build_model(
        arguments.worker, len(label_names), multilabel, arguments.seed
    )
    model.to(device).train()
    optimizer = make_optimizer(model, learning_rate, suite_settings()["weight_decay"])
    steps = []
    for batch in batches:
        start = stamp(device)
        train_step(model, optimizer, batch, multilabel)
        steps.append(np.subtract(stamp(device), start))
    peak, kind = peak_memory_megabytes(device)
    timing = summarize(np.asarray(steps[arguments.warmup :]))
    return {
        "method": arguments.worker,
        "device": device.type,
        "trainable_parameters": report.trainable_parameters,
        "total_parameters": report.total_parameters,
        "memory_kind": kind,
        "peak_memory_mib": peak,
        "peak_increase_mib": peak - baseline,
        "memory_before_model_mib": baseline,
        "samples_per_second": arguments.batch_size * 1000 / timing["median_ms"],
        **timing,
    }


def run_worker(arguments: argparse.Namespace) -> None:
    """Measure one method and print its costs as one JSON line on stdout."""
    with contextlib.redirect_stdout(sys.stderr):
        result = measure_method(arguments)
    print(json.dumps(result))


def worker_command(method: str, arguments: argparse.Namespace, role: str = "--worker") -> list[str]:
    command = [sys.executable, "-m", "benchmarks.clinical_costs", role, method]
    command += ["--dataset", arguments.dataset, "--seed", str(arguments.seed)]
    command += ["--steps", str(arguments.steps), "--warmup", str(arguments.warmup)]
    command += ["--batch-size", str(arguments.batch_size)]
    command += ["--max-length", str(arguments.max_length)]
    if arguments.data_dir is not None:
        command += ["--data-dir", str(arguments.data_dir)]
    return command


def measure_in_subprocess(
    method: str, arguments: argparse.Namespace, role: str = "--worker"
) -> dict[str, Any]:
    completed = subprocess.run(
        worker_command(method, arguments, role),
        cwd=REPOSITORY,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the {method} worker failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


class RepeatedBatch(Dataset):
    """One batch, `length` times: both loops see exactly the same data."""

    def __init__(self, batch: Batch, length: int) -> None:
        self.batch = batch
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Batch:
        return self.batch


class StepClock(lightning.Callback):
    """Stamps the start of every training batch; two stamps apart is one whole step."""

    def __init__(self) -> None:
        self.starts: list[tuple[float, float]] = []

    def on_train_batch_start(self, trainer, module, batch, batch_index) -> None:
        self.starts.append(stamp(module.device))


def suite_trainer(device: torch.device, callbacks: list[lightning.Callback]) -> lightning.Trainer:
    """A `Trainer` set up as make_trainer does for one epoch, less disk I/O and validation."""
    return lightning.Trainer(
        **{
            **suite_settings()["trainer"],
            "max_epochs": 1,
            "accelerator": "gpu" if device.type == "cuda" else "cpu",
            "devices": 1,
        },
        callbacks=callbacks,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )


def suite_loop(module: PeftClassifier, loader: DataLoader, device: torch.device) -> np.ndarray:
    """(wall, CPU) seconds per step of `Trainer.fit` set up as make_trainer does, less disk I/O."""
    clock = StepClock()
    trainer = suite_trainer(device, [CostTracker(), clock])
    trainer.fit(module, train_dataloaders=loader)
    return np.diff(clock.starts, axis=0)


def hand_loop(
    model: nn.Module, loader: DataLoader, learning_rate: float, multilabel: bool
) -> np.ndarray:
    """(wall, CPU) seconds per step of the minimal loop, stamped at each batch start."""
    device = next(model.parameters()).device
    optimizer = make_optimizer(model, learning_rate, suite_settings()["weight_decay"])
    model.train()
    starts = []
    for batch in loader:
        starts.append(stamp(device))
        train_step(model, optimizer, batch, multilabel)
    return np.diff(starts, axis=0)


def require_identical(first: nn.Module, second: nn.Module) -> None:
    pairs = zip(first.state_dict().items(), second.state_dict().items(), strict=True)
    different = [name for (name, a), (_, b) in pairs if not torch.equal(a, b)]
    if different:
        raise RuntimeError(f"the two {OVERHEAD_METHOD} models differ in {different[:3]}")


def identical_loops(
    label_names: list[str], multilabel: bool, seed: int, device: torch.device
) -> dict[str, Callable[[DataLoader], np.ndarray]]:
    """The suite loop and the hand loop, each training its own copy of the same seeded model."""
    suite_model, report, learning_rate = build_model(
        OVERHEAD_METHOD, len(label_names), multilabel, seed
    )
    hand_model, _, _ = build_model(OVERHEAD_METHOD, len(label_names), multilabel, seed)
    require_identical(suite_model, hand_model)
    hand_model.to(device)
    module = PeftClassifier(
        suite_model,
        report,
        label_names=label_names,
        multilabel=multilabel,
        learning_rate=learning_rate,
        weight_decay=suite_settings()["weight_decay"],
    )
    return {
        "suite": lambda loader: suite_loop(module, loader, device),
        "hand": lambda loader: hand_loop(hand_model, loader, learning_rate, multilabel),
    }


def run_interleaved(
    loops: dict[str, Callable[[DataLoader], np.ndarray]],
    batch: Batch,
    arguments: argparse.Namespace,
    progress: Progress,
) -> dict[str, np.ndarray]:
    """Short blocks of each loop in turn, alternating which goes first; timed steps per loop."""
    steps: dict[str, list[np.ndarray]] = {name: [] for name in loops}
    task = progress.add_task("suite vs hand loop, in blocks", total=2 * arguments.repeats)
    for block in range(arguments.repeats):
        # Later blocks drop only their first step: it carries each fit's one-off work.
        untimed = arguments.warmup if block == 0 else 1
        # One extra batch closes the last timed step.
        length = untimed + arguments.block_steps + 1
        loader = DataLoader(RepeatedBatch(batch, length), batch_size=None)
        for name in ("suite", "hand") if block % 2 == 0 else ("hand", "suite"):
            steps[name].append(loops[name](loader)[untimed:])
            progress.advance(task)
    return {name: np.concatenate(blocks) for name, blocks in steps.items()}


def measure_overhead(arguments: argparse.Namespace, progress: Progress) -> dict[str, Any]:
    """Per-step time of the suite loop and the hand loop on one fixed batch."""
    device = pick_device()
    batches, label_names, multilabel = load_batches(arguments, 1)
    loops = identical_loops(label_names, multilabel, arguments.seed, device)
    steps = run_interleaved(loops, to_device(batches[0], device), arguments, progress)
    suite, hand = summarize(steps["suite"]), summarize(steps["hand"])
    return {
        "method": OVERHEAD_METHOD,
        "device": device.type,
        "suite": suite,
        "hand": hand,
        "overhead_percent": 100 * (suite["median_ms"] / hand["median_ms"] - 1),
    }


def measure_everything(
    arguments: argparse.Namespace, console: Console
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Each method in its own subprocess, then the loop comparison in this process."""
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("methods, one subprocess each", total=len(METHODS))
        methods = []
        for method in METHODS:
            methods.append(measure_in_subprocess(method, arguments))
            progress.advance(task)
        overhead = measure_overhead(arguments, progress)
    return methods, overhead


def memory_fit(
    method: str,
    batch: Batch,
    label_names: list[str],
    multilabel: bool,
    arguments: argparse.Namespace,
    probe: MemoryCategoryProbe | None,
) -> tuple[PeftClassifier, torch.optim.Optimizer, CostTracker, np.ndarray]:
    """`MEMORY_STEPS` steps of the suite's loop on `batch`, watched by `probe` if given.

    Returns the module, its optimizer, the run's `CostTracker` and (wall, CPU) seconds per step.
    """
    device = pick_device()
    model, report, learning_rate = build_model(method, len(label_names), multilabel, arguments.seed)
    module = PeftClassifier(
        model,
        report,
        label_names=label_names,
        multilabel=multilabel,
        learning_rate=learning_rate,
        weight_decay=suite_settings()["weight_decay"],
    )
    costs, clock = CostTracker(), StepClock()
    # The clock first: a watched step's time includes the probe's own work.
    callbacks = [clock, costs] + ([probe] if probe is not None else [])
    trainer = suite_trainer(device, callbacks)
    # One extra batch closes the last step's clock.
    loader = DataLoader(RepeatedBatch(batch, MEMORY_STEPS + 1), batch_size=None)
    trainer.fit(module, train_dataloaders=loader)
    return module, trainer.optimizers[0], costs, np.diff(clock.starts, axis=0)[:MEMORY_STEPS]


def same_training(
    first: tuple[nn.Module, torch.optim.Optimizer], second: tuple[nn.Module, torch.optim.Optimizer]
) -> bool:
    """Whether two fits ended with bit-identical weights and optimizer state."""
    (first_module, first_optimizer), (second_module, second_optimizer) = first, second
    pairs = zip(first_module.state_dict().items(), second_module.state_dict().items(), strict=True)
    if not all(a_name == b_name and torch.equal(a, b) for (a_name, a), (b_name, b) in pairs):
        return False
    first_state = first_optimizer.state_dict()["state"]
    second_state = second_optimizer.state_dict()["state"]
    return first_state.keys() == second_state.keys() and all(
        torch.equal(value, second_state[index][key])
        for index, state in first_state.items()
        for key, value in state.items()
    )


def measure_method_memory(arguments: argparse.Namespace) -> dict[str, Any]:
    """One method's memory by category in this (fresh) process: the memory worker's whole job."""
    method = arguments.memory_worker
    device = pick_device()
    batches, label_names, multilabel = load_batches(arguments, 1)
    batch = to_device(batches[0], device)
    baseline = memory_baseline(device)
    probe = MemoryCategoryProbe()
    watched = memory_fit(method, batch, label_names, multilabel, arguments, probe)
    # Read before the second fit: the peak of the watched run alone.
    peak, kind = peak_memory_megabytes(device)
    module, optimizer, _, watched_steps = watched
    plain_module, plain_optimizer, _, plain_steps = memory_fit(
        method, batch, label_names, multilabel, arguments, probe=None
    )
    if probe.memory_by_category is None:
        raise RuntimeError(f"the probe watched no optimizer step of {method}")
    return {
        "method": method,
        "device": device.type,
        "trainable_parameters": module.report.trainable_parameters,
        "total_parameters": module.report.total_parameters,
        "batch_shape": list(batch["inputs"]["input_ids"].shape),
        "memory_by_category": probe.memory_by_category,
        "memory_kind": kind,
        "peak_memory_mib": peak,
        "peak_increase_mib": peak - baseline,
        "memory_before_model_mib": baseline,
        "run_unchanged_by_probe": same_training(
            (module, optimizer), (plain_module, plain_optimizer)
        ),
        "watched_step_seconds": watched_steps[:, 0].tolist(),
        "plain_step_seconds": plain_steps[:, 0].tolist(),
    }


def run_memory_worker(arguments: argparse.Namespace) -> None:
    """Measure one method's memory by category; print it as one JSON line on stdout."""
    with contextlib.redirect_stdout(sys.stderr):
        result = measure_method_memory(arguments)
    print(json.dumps(result))


def measure_memory_everything(
    arguments: argparse.Namespace, console: Console
) -> list[dict[str, Any]]:
    """Each method's memory by category, in its own subprocess."""
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("memory by category, one subprocess each", total=len(METHODS))
        results = []
        for method in METHODS:
            results.append(measure_in_subprocess(method, arguments, role="--memory-worker"))
            progress.advance(task)
    return results


def run_memory_benchmark(arguments: argparse.Namespace, console: Console) -> None:
    """Measure, print and write the memory-by-category tables, plot and raw figures."""
    machine = describe_machine()
    results = measure_memory_everything(arguments, console)
    machine["load average at end (1/5/15 min)"] = load_average()
    console.print(
        rich_table("Memory by category (MiB, one steady step)", *memory_category_table(results))
    )
    console.print(rich_table("Peak against the floor (MiB)", *floor_table(results)))
    for note in memory_notes(arguments, results):
        console.print(f"- {note}")
    command = " ".join(["python -m benchmarks.clinical_costs", *sys.argv[1:]])
    output = arguments.output
    text = memory_markdown_report(command, arguments, machine, results)
    write_text_atomic(output / "clinical_costs_memory.md", text + "\n")
    plot_memory(results, output / "clinical_costs_memory.png")
    write_json_atomic(
        output / "clinical_costs_memory.json",
        {"command": command, "machine": machine, "methods": results},
    )
    console.print(f"wrote {output / 'clinical_costs_memory'}.md, .png and .json")


def run_cost_benchmark(arguments: argparse.Namespace, console: Console) -> None:
    """Measure, print and write the per-method costs and the loop overhead."""
    machine = describe_machine()
    methods, overhead = measure_everything(arguments, console)
    machine["load average at end (1/5/15 min)"] = load_average()
    console.print(rich_table("Cost per method", *method_table(methods)))
    if warning := busy_warning(methods):
        console.print(warning)
    console.print(rich_table("Suite loop against a hand-written loop", *overhead_table(overhead)))
    console.print(verdict(overhead))
    for note in measurement_notes(arguments, methods[0]["memory_kind"], OVERHEAD_METHOD):
        console.print(f"- {note}")
    console.print(", ".join(f"{key}: {value}" for key, value in machine.items()))
    report = arguments.output / "clinical_costs.md"
    command = " ".join(["python -m benchmarks.clinical_costs", *sys.argv[1:]])
    text = markdown_report(command, arguments, machine, methods, overhead)
    write_text_atomic(report, text + "\n")
    plot(methods, overhead, arguments.output / "clinical_costs.png")
    console.print(f"wrote {report} and {arguments.output / 'clinical_costs.png'}")


def main(argv: list[str] | None = None) -> None:
    arguments = parse_arguments(argv)
    quiet_libraries()
    if arguments.worker:
        run_worker(arguments)
        return
    if arguments.memory_worker:
        run_memory_worker(arguments)
        return
    # Piped output would otherwise wrap the tables at 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 140)
    if not arguments.memory_only:
        run_cost_benchmark(arguments, console)
    run_memory_benchmark(arguments, console)


if __name__ == "__main__":
    main()
