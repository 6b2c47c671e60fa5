"""A toy domain, defined outside the suite: a new domain is one registration, not an edit.

Everything of the "parity" domain lives here, in the tests: a tiny randomly initialised MLP,
in-memory bit strings, its own metric (`agreement`), its own config sections (a data field and
a whole `parity` section), its own LightningModule and output file. Tests use it as a fast,
complete domain (tests/peftsuite/test_toy_domain_plugin.py, the resume and two-step tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from hydra.core.config_store import ConfigStore
from torch import nn
from torch.utils.data import TensorDataset

from pipelines.prepared import PreparedPipeline
from pipelines.registry import (
    _PIPELINES,
    DataSection,
    PipelineSpec,
    register_pipeline,
)
from shared.datamodule import SplitDataModule
from shared.datasets import checked_options, get_dataset, register_dataset
from shared.peft_module import EvaluationResult, PeftModule, ScoredSet

PIPELINE = "toy_parity"


@dataclass
class ParityDataSection(DataSection):
    bits: int = 8  # length of each bit string


@dataclass
class ParitySection:
    """A section only this domain reads: how its metric rounds scores."""

    threshold: float = 0.5


@dataclass
class ParityBitsOptions:
    examples: int = 96


def random_bit_strings(bits: int, seed: int, examples: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randint(0, 2, (examples, bits), generator=generator).float()
    return inputs, (inputs[:, 0] > 0).long()  # the label is the first bit: learnable fast


class TinyRandomParityMLP(nn.Module):
    """A tiny randomly initialised MLP (not pretrained): a hidden layer and a head."""

    def __init__(self, bits: int) -> None:
        super().__init__()
        self.hidden = nn.Linear(bits, 16)
        self.head = nn.Linear(16, 2)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.hidden(inputs)))


class ParityDataModule(SplitDataModule):
    def __init__(self, inputs: torch.Tensor, labels: torch.Tensor, batch_size: int) -> None:
        super().__init__(batch_size=batch_size, eval_batch_size=batch_size)
        third = len(labels) // 3
        for index, split in enumerate(("train", "val", "test")):
            part = slice(index * third, (index + 1) * third)
            self.datasets[split] = TensorDataset(inputs[part], labels[part])


class ParityModule(PeftModule):
    """Classifies bit strings; scored by `agreement`, this domain's own metric."""

    def __init__(self, model, report, *, threshold: float, **optimisation) -> None:
        super().__init__(model, report, **optimisation)
        self.threshold = threshold

    def batch_size(self, batch) -> int:
        return len(batch[1])

    def batch_outputs(self, batch) -> torch.Tensor:
        return self.model(batch[0])

    def positive_probability(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(inputs), dim=-1)[:, 1]

    def training_step(self, batch, batch_index):
        loss = nn.functional.cross_entropy(self.model(batch[0]), batch[1])
        self.log("train_loss", loss, batch_size=self.batch_size(batch))
        return loss

    def validation_step(self, batch, batch_index) -> None:
        agreement = self.agreement(self.positive_probability(batch[0]), batch[1])
        self.log("val_agreement", agreement, batch_size=self.batch_size(batch))

    def agreement(self, probabilities: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return ((probabilities > self.threshold).long() == labels).float().mean()

    def test_outputs(self, batch):
        return self.positive_probability(batch[0]).detach(), batch[1]

    def score_test_set(self, name: str, outputs) -> ScoredSet:
        probabilities = torch.cat([p for p, _ in outputs])
        labels = torch.cat([y for _, y in outputs])
        agreement = float(self.agreement(probabilities, labels))
        return ScoredSet({"agreement": agreement, "examples": len(labels)}, probabilities)


def write_parity_outputs(result: EvaluationResult, directory: Path) -> None:
    (directory / "parity.txt").write_text(f"{result.in_domain.metrics['agreement']:.4f}\n")


def load_parity_bits(bits: int, seed: int, examples: int):
    return random_bit_strings(bits, seed, examples)


def prepare_parity(config) -> PreparedPipeline:
    dataset = get_dataset(config.data.name, PIPELINE)
    options = checked_options(dataset, dict(config.data.options))
    inputs, labels = dataset.loader(config.data.bits, config.seed, **options)
    datamodule = ParityDataModule(inputs, labels, config.data.batch_size)

    def make_module(model, report, **optimisation) -> ParityModule:
        return ParityModule(model, report, threshold=config.parity.threshold, **optimisation)

    return PreparedPipeline(
        model=TinyRandomParityMLP(config.data.bits),
        head_modules=["head"],
        datamodule=datamodule,
        train_size=len(datamodule.datasets["train"]),
        data_summary={"dataset": config.data.name, "bits": config.data.bits},
        make_module=make_module,
        write_outputs=write_parity_outputs,
    )


PARITY_GROUPS = [f"pipeline={PIPELINE}", "model=tiny_random_parity_mlp", "data=parity_bits"]


def register_parity_domain() -> list[str]:
    """Register the toy domain (once per process): pipeline, dataset and its config group
    options; returns the overrides that select it."""
    if PIPELINE in _PIPELINES:
        return PARITY_GROUPS
    register_pipeline(
        PipelineSpec(
            name=PIPELINE,
            prepare=prepare_parity,
            data_section=ParityDataSection,
            sections={"parity": ParitySection},
            validation_metrics=("val_agreement",),
        )
    )
    register_dataset(
        "parity_bits",
        load_parity_bits,
        pipeline=PIPELINE,
        options=ParityBitsOptions,
        source="generated in memory",
    )
    store = ConfigStore.instance()
    pipeline_node = {"name": PIPELINE, "baselines": False, "monitor": "val_agreement"}
    store.store(group="pipeline", name=PIPELINE, node=pipeline_node)
    store.store(group="model", name="tiny_random_parity_mlp", node={"name": "tiny_mlp"})
    store.store(group="data", name="parity_bits", node={"name": "parity_bits", "batch_size": 8})
    return PARITY_GROUPS


register_parity_domain()  # importing the module is enough (PEFTSUITE_PLUGINS=toy_domain)
