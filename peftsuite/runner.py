"""Train then test one config: the thin entry point every pipeline shares.

It only composes: the pipeline prepares data and backbone (all input checks happen there, before
training), the injection layer applies the method, Lightning trains and tests, and the results
(metrics with costs, the adapter, the resolved config, logs) land in one run directory. A run
whose metrics.json exists is finished and is not redone; an interrupted one resumes from its
last checkpoint.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning
from lightning.pytorch.callbacks import ModelCheckpoint, RichProgressBar
from lightning.pytorch.loggers import CSVLogger, Logger, MLFlowLogger, TensorBoardLogger
from omegaconf import DictConfig, OmegaConf

from peftsuite.checkpoint_io import AtomicCheckpointIO
from peftsuite.checks import trainer_settings
from peftsuite.run_directory import run_directory
from pipelines.prepared import PreparedPipeline
from pipelines.registry import prepare_pipeline
from shared.atomic import write_json_atomic, write_text_atomic
from shared.checkpoint import save_adapter
from shared.confusion import confusion_counts, plot_confusion_matrix, write_per_class_table
from shared.costs import CostTracker
from shared.inject import inject_method
from shared.memory_categories import MemoryCategoryProbe
from shared.methods import method_config_from_mapping
from shared.peft_format import PEFT_FOLDER, save_peft_format
from shared.peft_module import EvaluationResult, ordered_test_sets
from shared.stack_proof import StackProof
from shared.stacking import (
    stack_domain_adapters,
    stack_metadata,
    stacked_task_report,
    train_domain_members,
)

METRICS_FILE = "metrics.json"
ADAPTER_FILE = "adapter.safetensors"
LAST_CHECKPOINT = "last"


def optimizer_steps(config: DictConfig, train_size: int) -> int:
    """Optimizer steps the trainer will take (AdaLoRA's schedule needs it up front)."""
    per_epoch = math.ceil(train_size / config.data.batch_size)
    limit = config.trainer.limit_train_batches
    if isinstance(limit, int):
        per_epoch = min(per_epoch, limit)
    elif isinstance(limit, float):
        per_epoch = max(1, int(per_epoch * limit))
    return per_epoch * config.trainer.max_epochs


def method_settings(config: DictConfig, train_size: int) -> dict[str, Any]:
    settings = OmegaConf.to_container(config.method, resolve=True)
    if "total_step" in settings and settings["total_step"] is None:
        settings["total_step"] = optimizer_steps(config, train_size)
    return settings


def make_logger(config: DictConfig, directory: Path) -> Logger:
    """CSV (the default), TensorBoard or MLflow; a resumed run logs to a new version or run."""
    if config.run.logger == "tensorboard":
        return TensorBoardLogger(directory, name="logs")
    if config.run.logger == "mlflow":
        if config.run.tracking_uri is None:
            # Offline default: a file store beside the runs. MLflow 3 keeps it in maintenance
            # and asks for this opt-in; its database stores need the full mlflow install.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        store = config.run.tracking_uri or (Path(config.run.output_dir).absolute() / "mlruns")
        return MLFlowLogger(
            experiment_name=f"{config.pipeline.name}/{config.data.name}",
            run_name=directory.name,
            tracking_uri=store if isinstance(store, str) else store.as_uri(),
        )
    return CSVLogger(directory, name="logs")


def make_trainer(
    config: DictConfig,
    directory: Path,
    costs: CostTracker,
    extra_callbacks: Sequence[lightning.Callback] = (),
) -> lightning.Trainer:
    callbacks: list[lightning.Callback] = [
        costs,
        *extra_callbacks,
        # First, so it is `trainer.checkpoint_callback`: the best model, which testing uses.
        ModelCheckpoint(
            dirpath=directory / "checkpoints",
            monitor=config.pipeline.monitor,
            mode=config.pipeline.monitor_mode,
            save_top_k=1,
        ),
        # The latest state after every epoch, to resume from. Lightning's save_last updates it
        # only when the best changes, so a resumed run would redo every epoch since then.
        ModelCheckpoint(
            dirpath=directory / "checkpoints",
            filename=LAST_CHECKPOINT,
            save_top_k=1,
            enable_version_counter=False,
        ),
    ]
    settings = trainer_settings(config)
    if settings.get("enable_progress_bar", True):
        callbacks.append(RichProgressBar())
    return lightning.Trainer(
        **settings,
        default_root_dir=directory,
        callbacks=callbacks,
        logger=make_logger(config, directory),
        plugins=[AtomicCheckpointIO()],
        enable_model_summary=False,
    )


def best_validation_score(trainer: lightning.Trainer) -> float | None:
    score = trainer.checkpoint_callback.best_model_score
    return None if score is None else float(score)


def write_per_class_results(
    result: EvaluationResult, label_names: list[str], directory: Path, title: str
) -> None:
    probabilities, labels = result.in_domain.predictions
    counts = confusion_counts(probabilities, labels)
    plot_confusion_matrix(counts, label_names, directory / "confusion_matrix.png", title)
    write_per_class_table(
        counts,
        result.in_domain.metrics["auroc_per_class"],
        label_names,
        directory / "per_class.md",
    )


def check_cross_domain(config: DictConfig, prepared: PreparedPipeline) -> None:
    """Fail before training when the pipeline did not prepare every asked-for cross-domain set."""
    asked, prepared_sets = list(config.data.cross_domain), ordered_test_sets(prepared.datamodule)
    if asked != prepared_sets[1:]:
        raise ValueError(
            f"data.cross_domain asks for {asked}, but pipeline {config.pipeline.name!r} prepared "
            f"{prepared_sets[1:] or 'no cross-domain test sets'}; cross-domain tests are "
            "supported where datasets share a label set (speech digits, translation)."
        )


def run_experiment(config: DictConfig) -> Path:
    """Train and test `config`; returns the run directory holding its results."""
    directory = run_directory(config)
    if (directory / METRICS_FILE).exists():
        print(f"already finished (delete it to run again): {directory / METRICS_FILE}")
        return directory
    lightning.seed_everything(config.seed, workers=True, verbose=False)
    prepared = prepare_pipeline(config)
    check_cross_domain(config, prepared)
    method = method_config_from_mapping(method_settings(config, prepared.train_size))
    heads = prepared.head_modules
    stack = config.stack
    base, members = stack_domain_adapters(
        prepared.model, stack.domain_adapters, head_modules=heads, trainable=stack.train_domain
    )
    model, report = inject_method(base, method, head_modules=heads)
    report, domain_parameters = train_domain_members(model, report, members)
    directory.mkdir(parents=True, exist_ok=True)
    write_text_atomic(directory / "config.yaml", OmegaConf.to_yaml(config, resolve=True))

    module = prepared.build_module(
        model,
        report,
        learning_rate=method.learning_rate if config.optim.lr is None else config.optim.lr,
        weight_decay=config.optim.weight_decay,
    )
    if domain_parameters and stack.domain_lr is not None:
        module.train_at_own_rate(domain_parameters, stack.domain_lr)
    costs = CostTracker(watts_per_cpu_core=config.run.watts_per_cpu_core)
    proof = StackProof(members, module.batch_outputs, report.head_modules) if members else None
    memory = MemoryCategoryProbe()
    trainer = make_trainer(config, directory, costs, [memory, *([proof] if proof else [])])
    last = directory / "checkpoints" / f"{LAST_CHECKPOINT}.ckpt"
    # trainer.max_epochs=0 tests the model as it is (zero-shot): no fit, so no sanity validation
    # and no training time.
    if config.trainer.max_epochs > 0:
        checkpoint = last if last.exists() else None
        trainer.fit(module, datamodule=prepared.datamodule, ckpt_path=checkpoint)
    best = "best" if trainer.checkpoint_callback.best_model_path else None
    result = module.evaluate(trainer, prepared.datamodule, ckpt_path=best)

    stack = stack_metadata(members) if members else None
    adapter_bytes = save_adapter(module.model, report, directory / ADAPTER_FILE, stack=stack)
    if not members:  # peft's folder would load onto the bare base, without the domain adapters
        save_peft_format(module.model, report, directory / PEFT_FOLDER)  # peft methods only
    baselines = (
        {name: make() for name, make in prepared.baselines.items()}
        if config.pipeline.baselines
        else {}
    )
    results = {
        "test": result.in_domain.metrics,
        "cross_domain": result.cross_domain_metrics,
        "baselines": baselines,
        "costs": {
            **costs.costs,
            "trainable_parameters": report.trainable_parameters,
            "total_parameters": report.total_parameters,
            "trainable_fraction": report.trainable_fraction,
            "adapter_bytes": adapter_bytes,
            "memory_by_category": memory.memory_by_category,
        },
        "injection": report.to_dict(),
        "data": prepared.data_summary,
        "pipeline": config.pipeline.name,
        "learning_rate": module.learning_rate,
        # What picked the tested checkpoint, and its score: learning-rate selection reads it.
        "validation": {
            "monitor": config.pipeline.monitor,
            "mode": config.pipeline.monitor_mode,
            "best": best_validation_score(trainer),
        },
    }
    if members:
        results["stack"] = {**stacked_task_report(report, members), "proof": proof.findings}
    if prepared.write_outputs is not None:
        prepared.write_outputs(result, directory)
    elif not prepared.multilabel:
        title = f"{config.method.name} on {config.data.name}"
        write_per_class_results(result, list(prepared.label_names), directory, title)
    write_json_atomic(directory / METRICS_FILE, results)
    return directory
