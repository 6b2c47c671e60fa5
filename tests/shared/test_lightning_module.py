"""The shared LightningModule: trains only what the injection left trainable, small checkpoints."""

import lightning
import pytest
import torch
from tiny_models import tiny_random_bert_classifier, tiny_random_efficientnet_classifier
from torch.utils.data import DataLoader

from shared.costs import CostTracker
from shared.inject import inject_method
from shared.lightning_module import PeftClassifier

LABELS = ["a", "b", "c"]


def image_batches(count: int, size: int = 4, multilabel: bool = False):
    generator = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(count):
        images = torch.randn(size, 3, 64, 64, generator=generator)
        if multilabel:
            labels = torch.randint(0, 2, (size, len(LABELS)), generator=generator)
        else:
            labels = torch.arange(size) % len(LABELS)
        batches.append({"inputs": images, "labels": labels})
    return batches


def quiet_trainer(tmp_path, callbacks=()) -> lightning.Trainer:
    return lightning.Trainer(
        max_epochs=1,
        accelerator="cpu",
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=list(callbacks),
    )


class BatchListDataModule(lightning.LightningDataModule):
    """Ready-made batches: one list to train and validate on, and named test sets in order."""

    def __init__(self, train: list, tests: dict[str, list]) -> None:
        super().__init__()
        self.train, self.tests = train, tests

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train, batch_size=None)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.train, batch_size=None)

    def test_set_names(self) -> list[str]:
        return list(self.tests)

    def test_dataloader(self) -> list[DataLoader]:
        return [DataLoader(batches, batch_size=None) for batches in self.tests.values()]


def fit_and_test(module: PeftClassifier, batches, tmp_path) -> tuple[CostTracker, dict]:
    costs = CostTracker()
    datamodule = BatchListDataModule(batches, {"test": batches})
    trainer = quiet_trainer(tmp_path, [costs])
    trainer.fit(module, datamodule=datamodule)
    result = module.evaluate(trainer, datamodule)
    trainer.save_checkpoint(tmp_path / "module.ckpt")
    return costs, result.in_domain.metrics


@pytest.mark.parametrize("multilabel", [False, True])
def test_training_moves_only_trainable_parameters_and_scores_the_test_set(tmp_path, multilabel):
    model, report = inject_method(tiny_random_efficientnet_classifier(), {"name": "lora"})
    frozen_before = {n: p.clone() for n, p in model.named_parameters() if not p.requires_grad}
    module = PeftClassifier(
        model, report, label_names=LABELS, multilabel=multilabel, learning_rate=1e-2
    )
    costs, metrics = fit_and_test(module, image_batches(3, multilabel=multilabel), tmp_path)

    for name, parameter in model.named_parameters():
        if name in frozen_before:
            assert torch.equal(parameter, frozen_before[name]), name
    assert set(metrics) >= {"auroc_macro", "accuracy", "f1_macro", "auroc_per_class"}
    assert costs.train_samples == 12 and costs.test_samples == 12
    assert costs.costs["train_samples_per_second"] > 0


def test_checkpoint_holds_trainable_tensors_and_moved_batchnorm_statistics_only(tmp_path):
    method = {"name": "bitfit", "train_batchnorm_statistics": True}
    model, report = inject_method(tiny_random_efficientnet_classifier(), method)
    module = PeftClassifier(model, report, label_names=LABELS, multilabel=False, learning_rate=1e-2)
    fit_and_test(module, image_batches(2), tmp_path)

    state = torch.load(tmp_path / "module.ckpt", weights_only=False)["state_dict"]
    trainable = {f"model.{n}" for n, p in model.named_parameters() if p.requires_grad}
    statistics = {k for k in state if "running_" in k or "num_batches_tracked" in k}
    assert set(state) == trainable | statistics
    assert statistics, "BatchNorm statistics moved in training and must be kept"
    assert not any(k.endswith("conv_stem.weight") for k in state)


def test_dropout_is_active_during_training(tmp_path):
    model, report = inject_method(tiny_random_bert_classifier(), {"name": "lora"})
    module = PeftClassifier(model, report, label_names=LABELS, multilabel=False, learning_rate=1e-3)
    assert not all(m.training for m in model.modules())  # pretrained models load in eval mode
    module.on_fit_start()
    assert all(m.training for m in model.modules())


@pytest.mark.parametrize(("method", "statistics_move"), [("ssf", False), ("full", True)])
def test_batchnorm_statistics_freeze_for_peft_methods_and_train_for_full(
    tmp_path, method, statistics_move
):
    model, report = inject_method(tiny_random_efficientnet_classifier(), {"name": method})
    before = {n: b.clone() for n, b in model.named_buffers() if "running_mean" in n}
    module = PeftClassifier(model, report, label_names=LABELS, multilabel=False, learning_rate=1e-3)
    fit_and_test(module, image_batches(2), tmp_path)
    moved = any(not torch.equal(b, before[n]) for n, b in model.named_buffers() if n in before)
    assert moved == statistics_move


def test_cross_domain_test_sets_are_scored_apart_from_the_in_domain_one(tmp_path):
    model, report = inject_method(tiny_random_efficientnet_classifier(), {"name": "bitfit"})
    module = PeftClassifier(model, report, label_names=LABELS, multilabel=False, learning_rate=1e-2)
    in_domain, other = image_batches(2), image_batches(1, size=6)
    both = BatchListDataModule(in_domain, {"test": in_domain, "other_domain": other})
    trainer = quiet_trainer(tmp_path)
    trainer.fit(module, datamodule=both)
    result = module.evaluate(trainer, both)
    assert list(result.sets) == ["test", "other_domain"]
    assert len(result.in_domain.predictions[1]) == 8
    assert list(result.cross_domain_metrics) == ["other_domain"]

    alone = module.evaluate(trainer, BatchListDataModule(in_domain, {"test": other}))
    assert len(alone.in_domain.predictions[1]) == 6
    scored_apart = result.cross_domain_metrics["other_domain"]
    assert scored_apart["accuracy"] == alone.in_domain.metrics["accuracy"]
    assert scored_apart["auroc_macro"] == alone.in_domain.metrics["auroc_macro"]
