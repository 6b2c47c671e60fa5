"""Memory by category: exact sizes on a tiny model, and a probe that leaves a run untouched."""

from dataclasses import dataclass

import lightning
import pytest
import torch
from quiet_trainer import quiet_trainer
from tiny_models import random_text_batch, tiny_random_bert_classifier
from torch import nn
from torch.nn import functional
from torch.utils._python_dispatch import _len_torch_dispatch_stack
from torch.utils.data import DataLoader

from shared.costs import CostTracker
from shared.inject import inject_method
from shared.lightning_module import PeftClassifier
from shared.memory_categories import (
    ACTIVATIONS,
    BACKWARD_TEMPORARIES,
    BUFFERS,
    CATEGORIES,
    GRADIENTS,
    INPUTS,
    OPTIMIZER_STATE,
    OTHER,
    PARAMETERS_FROZEN,
    PARAMETERS_TRAINABLE,
    MemoryCategoryProbe,
    measure_memory_categories,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FLOAT32 = 4
INT64 = 8
BATCH, FEATURES, HIDDEN, CLASSES, BUFFER = 32, 64, 256, 10, 100


def tiny_mlp() -> nn.Module:
    """Linear(64, 256) frozen -> ReLU -> Linear(256, 256) -> ReLU -> Linear(256, 10), float32.

    In-place ReLUs, so every tensor the forward makes is one a hand count names. A buffer the
    forward never reads.
    """
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(FEATURES, HIDDEN),
        nn.ReLU(inplace=True),
        nn.Linear(HIDDEN, HIDDEN),
        nn.ReLU(inplace=True),
        nn.Linear(HIDDEN, CLASSES),
    )
    model[0].requires_grad_(False)
    model.register_buffer("unused", torch.zeros(BUFFER))
    return model.train()


def mlp_batch() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(BATCH, FEATURES, generator=generator)
    return features, torch.randint(0, CLASSES, (BATCH,), generator=generator)


def mlp_loss(model: nn.Module, batch) -> torch.Tensor:
    features, labels = batch
    return functional.cross_entropy(model(features), labels)


def adamw(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)


# Hand counts, in bytes.
FROZEN = (FEATURES * HIDDEN + HIDDEN) * FLOAT32
TRAINABLE = (HIDDEN * HIDDEN + HIDDEN + HIDDEN * CLASSES + CLASSES) * FLOAT32
TRAINABLE_TENSORS = 4  # two weights, two biases
# AdamW: exp_avg and exp_avg_sq like each trainable parameter, and a float32 `step` scalar each.
ADAM_STATE = 2 * TRAINABLE + TRAINABLE_TENSORS * FLOAT32
INPUT_BYTES = BATCH * FEATURES * FLOAT32 + BATCH * INT64
# What the forward keeps alive at its end: both hidden layers' outputs (the ReLUs work in place;
# the second and third Linear save them for the weight gradients), the logits and their
# log-softmax, and the loss with nll_loss's total weight (two float32 scalars).
ACTIVATION_ESTIMATE = 2 * BATCH * HIDDEN * FLOAT32 + 2 * BATCH * CLASSES * FLOAT32 + 2 * FLOAT32


@pytest.mark.parametrize("warmup_steps", [1, 0], ids=["steady", "first"])
def test_tiny_model_categories_match_hand_computed_sizes(warmup_steps):
    result = measure_memory_categories(
        tiny_mlp(), adamw, mlp_batch(), mlp_loss, warmup_steps=warmup_steps
    )

    peaks = result.peaks
    assert set(peaks) == set(CATEGORIES)
    assert peaks[PARAMETERS_FROZEN] == FROZEN
    assert peaks[PARAMETERS_TRAINABLE] == TRAINABLE
    assert peaks[BUFFERS] == BUFFER * FLOAT32
    assert peaks[GRADIENTS] == TRAINABLE  # trainable parameters only, once
    assert peaks[OPTIMIZER_STATE] == ADAM_STATE
    assert peaks[INPUTS] == INPUT_BYTES
    assert peaks[ACTIVATIONS] == pytest.approx(ACTIVATION_ESTIMATE, rel=0.10)
    # A gradient is a backward temporary until it is accumulated into `.grad`.
    assert peaks[BACKWARD_TEMPORARIES] >= HIDDEN * HIDDEN * FLOAT32
    assert result.steady_state is (warmup_steps > 0)
    assert result.floor == FROZEN + 4 * TRAINABLE + peaks[ACTIVATIONS]
    assert sum(result.at_peak.values()) == result.peak
    assert result.peak_above_floor == result.peak - result.floor
    if result.steady_state:
        # At the end of a steady forward everything of the floor is alive, and the inputs too.
        assert peaks[OTHER] == 0
        assert result.peak >= result.floor + INPUT_BYTES

    figures = result.to_dict()
    assert figures["unit"] == "MiB"
    assert figures["step"] == ("steady" if warmup_steps else "first")
    assert figures["peak_per_category"][OPTIMIZER_STATE] * 2**20 == ADAM_STATE
    assert figures["floor"] * 2**20 == result.floor
    assert figures["peak_over_floor"] == pytest.approx(result.peak / result.floor)


def test_a_storage_two_parameters_share_counts_once_as_trainable():
    mlp = tiny_mlp()
    spare = nn.Linear(HIDDEN, HIDDEN)  # not in the forward
    spare.weight = mlp[2].weight  # the trainable weight, shared
    spare.bias.requires_grad_(False)
    model = nn.ModuleDict({"mlp": mlp, "spare": spare})
    result = measure_memory_categories(
        model, adamw, mlp_batch(), lambda model, batch: mlp_loss(model["mlp"], batch)
    )
    assert result.peaks[PARAMETERS_TRAINABLE] == TRAINABLE
    assert result.peaks[PARAMETERS_FROZEN] == FROZEN + HIDDEN * FLOAT32


# The probe, in a Lightning fit of a tiny BERT with LoRA and dropout (so random numbers matter).

LABELS = ["a", "b", "c"]


def bert_batches(count: int) -> list[dict]:
    return [
        {"inputs": inputs, "labels": labels}
        for inputs, labels in (random_text_batch(seed) for seed in range(count))
    ]


def lora_bert_module() -> PeftClassifier:
    model, report = inject_method(tiny_random_bert_classifier(), {"name": "lora"})
    return PeftClassifier(
        model, report, label_names=LABELS, multilabel=False, learning_rate=1e-2, weight_decay=0.01
    )


class LossRecorder(lightning.Callback):
    def __init__(self) -> None:
        self.losses: list[torch.Tensor] = []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_index) -> None:
        self.losses.append(outputs["loss"].detach().clone())


@dataclass
class Fitted:
    module: PeftClassifier
    optimizer: torch.optim.Optimizer
    losses: list[torch.Tensor]
    rng_state: torch.Tensor  # torch's generator after the fit


def fit(batches: list[dict], callbacks: list, tmp_path, **settings):
    lightning.seed_everything(0, verbose=False)
    module = lora_bert_module()
    recorder = LossRecorder()
    trainer = quiet_trainer(
        max_epochs=1,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        default_root_dir=tmp_path,
        callbacks=[*callbacks, recorder],
        **settings,
    )
    trainer.fit(module, train_dataloaders=DataLoader(batches, batch_size=None))
    return Fitted(module, trainer.optimizers[0], recorder.losses, torch.get_rng_state())


def trainable_bytes(module: nn.Module) -> tuple[int, int]:
    trainable = [p for p in module.parameters() if p.requires_grad]
    return sum(p.numel() * p.element_size() for p in trainable), len(trainable)


def test_probe_leaves_a_training_run_bit_identical(tmp_path):
    batches = bert_batches(3)
    probe = MemoryCategoryProbe()
    watched = fit(batches, [probe, CostTracker()], tmp_path)
    plain = fit(batches, [CostTracker()], tmp_path)

    assert torch.equal(torch.stack(watched.losses), torch.stack(plain.losses))
    assert torch.equal(watched.rng_state, plain.rng_state)
    for (name, a), (_, b) in zip(
        watched.module.state_dict().items(), plain.module.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    watched_state = watched.optimizer.state_dict()["state"]
    plain_state = plain.optimizer.state_dict()["state"]
    assert len(watched_state) > 0 and watched_state.keys() == plain_state.keys()
    for index, state in watched_state.items():
        for key, value in state.items():
            assert torch.equal(value, plain_state[index][key]), (index, key)

    # It watched the second step, a steady one, and sized what it knows exactly.
    trainable, tensors = trainable_bytes(watched.module)
    result = probe.result
    assert probe.first is not None and result is probe.steady and result.steady_state
    assert result.peaks[PARAMETERS_TRAINABLE] == trainable
    assert result.peaks[GRADIENTS] == trainable
    assert result.peaks[OPTIMIZER_STATE] == 2 * trainable + tensors * FLOAT32
    assert result.peaks[ACTIVATIONS] > 0 and result.peak >= result.floor
    assert probe.memory_by_category["step"] == "steady"
    assert _len_torch_dispatch_stack() == 0


def test_probe_reports_the_first_step_of_a_one_step_fit(tmp_path):
    probe = MemoryCategoryProbe()
    trainable, tensors = trainable_bytes(fit(bert_batches(1), [probe], tmp_path).module)
    assert probe.steady is None and probe.result is probe.first
    assert not probe.first.steady_state
    assert probe.memory_by_category["step"] == "first"
    # The state the first step builds is filed as state once the step ends.
    assert probe.first.peaks[OPTIMIZER_STATE] == 2 * trainable + tensors * FLOAT32


def test_probe_watches_a_whole_step_when_gradients_accumulate(tmp_path):
    probe = MemoryCategoryProbe()
    fitted = fit(bert_batches(4), [probe], tmp_path, accumulate_grad_batches=2)
    trainable, _ = trainable_bytes(fitted.module)
    result = probe.steady
    assert result is not None and result.peaks[GRADIENTS] == trainable
    # Both batches of the step count as inputs: each holds input ids, a mask and labels.
    one_batch = sum(t.numel() * t.element_size() for t in [*random_text_batch()[0].values()])
    assert result.peaks[INPUTS] >= 2 * one_batch


class FailingClassifier(PeftClassifier):
    def training_step(self, batch, batch_index):
        if batch_index == 1:
            raise RuntimeError("boom")
        return super().training_step(batch, batch_index)


def test_probe_leaves_no_tracker_behind_when_training_fails(tmp_path):
    model, report = inject_method(tiny_random_bert_classifier(), {"name": "lora"})
    module = FailingClassifier(
        model, report, label_names=LABELS, multilabel=False, learning_rate=1e-2
    )
    probe = MemoryCategoryProbe()
    trainer = quiet_trainer(
        max_epochs=1,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        default_root_dir=tmp_path,
        callbacks=[probe],
    )
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(module, train_dataloaders=DataLoader(bert_batches(3), batch_size=None))
    assert _len_torch_dispatch_stack() == 0
    assert probe.steady is None and probe.first is not None
