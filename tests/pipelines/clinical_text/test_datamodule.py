"""The clinical text data module: length-bucketed batches (every note once per epoch, seeded,
less padding), example keys, and the frozen-prefix cache on MiniLM."""

import lightning
import numpy as np
import pytest
import torch
from quiet_trainer import quiet_trainer

from peftsuite.checks import ConfigError
from peftsuite.config import load_config
from pipelines.clinical_text.backbone import build_text_classifier
from pipelines.clinical_text.datamodule import TextClassificationDataModule
from pipelines.clinical_text.datasets import TextClassificationSplits, TextExamples
from shared.fast_classifier import build_fast_classifier
from shared.feature_cache import EXAMPLE_KEYS
from shared.inject import inject_method

pytestmark = pytest.mark.usefixtures("one_torch_thread")
WORDS = "patient presents with chest pain shortness of breath and mild fever".split()
LABELS = ["cardiology", "other"]


def examples(count: int, seed: int) -> TextExamples:
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, size=rng.integers(1, 60))) for _ in range(count)]
    return TextExamples(texts, np.arange(count, dtype=np.int64) % len(LABELS))


SPLITS = TextClassificationSplits(
    train=examples(40, 0),
    val=examples(12, 1),
    test=examples(12, 2),
    label_names=LABELS,
    multilabel=False,
)


@pytest.fixture(scope="module")
def minilm():
    return build_text_classifier("minilm", num_labels=len(LABELS), multilabel=False)


def datamodule(tokenizer, **overrides) -> TextClassificationDataModule:
    arguments = {"max_length": 96, "batch_size": 8, "eval_batch_size": 4, "bucket_by_length": True}
    module = TextClassificationDataModule(SPLITS, tokenizer, **{**arguments, **overrides})
    module.setup("fit")
    return module


def served_examples(loader) -> list[list[int]]:
    """Each batch as the positions of its examples in the split (found from token ids)."""
    return [batch["inputs"]["attention_mask"].sum(1).tolist() for batch in loader]


class RecordingModule(lightning.LightningModule):
    """Trains nothing useful; records which examples each training batch held."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.epochs: list[list[int]] = []

    def on_train_epoch_start(self) -> None:
        self.epochs.append([])

    def training_step(self, batch, batch_index):
        self.epochs[-1] += batch["positions"].tolist()
        return (self.weight * 0).sum() + self.weight.square().sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class Positioned(torch.utils.data.Dataset):
    """A split whose items also say their position, so a test can see which examples it got."""

    def __init__(self, split) -> None:
        self.split = split
        self.lengths = split.lengths

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, index: int) -> dict:
        return {**self.split[index], "position": torch.tensor(index)}


def test_lightning_serves_every_note_once_per_epoch_in_new_batches(minilm):
    data = datamodule(minilm[1])
    collate = data.collate

    def with_positions(items):
        return {**collate(items), "positions": torch.stack([item["position"] for item in items])}

    data.datasets["train"] = Positioned(data.datasets["train"])
    data.collate_fn = with_positions
    module = RecordingModule()
    trainer = quiet_trainer(
        max_epochs=3,
        limit_val_batches=0,
    )
    trainer.fit(module, train_dataloaders=data.train_dataloader())
    assert len(module.epochs) == 3
    for served in module.epochs:
        assert sorted(served) == list(range(len(SPLITS.train)))
    assert module.epochs[0] != module.epochs[1] != module.epochs[2]


def test_bucketed_batches_are_seeded_and_pad_less(minilm):
    tokenizer = minilm[1]
    bucketed = datamodule(tokenizer)
    again = datamodule(tokenizer)
    assert served_examples(bucketed.train_dataloader()) == served_examples(again.train_dataloader())
    other_seed = datamodule(tokenizer, seed=1)
    assert served_examples(other_seed.train_dataloader()) != served_examples(
        bucketed.train_dataloader()
    )
    plain = datamodule(tokenizer, bucket_by_length=False)
    for split in ("train", "val"):
        assert bucketed.padding_share(split) < 0.5 * plain.padding_share(split)
        assert plain.padding_share(split) == bucketed.padding_share(split, bucketed=False)
    # the share measured is the share served
    loader = bucketed.val_dataloader()
    real = sum(int(batch["inputs"]["attention_mask"].sum()) for batch in loader)
    padded = sum(batch["inputs"]["attention_mask"].numel() for batch in loader)
    assert bucketed.padding_share("val") == pytest.approx(1 - real / padded)
    labels = torch.cat([batch["labels"] for batch in bucketed.test_dataloader()])
    assert sorted(labels.tolist()) == sorted(SPLITS.test.labels.tolist())


def test_example_keys_are_served_only_when_asked_and_follow_the_tokens(minilm):
    data = datamodule(minilm[1])
    assert EXAMPLE_KEYS not in next(iter(data.val_dataloader()))
    data.serve_example_keys()
    batch = next(iter(data.val_dataloader()))
    assert batch[EXAMPLE_KEYS].shape == (len(batch["labels"]), 16)
    keys = data.datasets["train"].keys
    assert len({bytes(key.numpy()) for key in keys}) == len(
        {tuple(ids) for ids in data.datasets["train"].encodings["input_ids"]}
    )
    shorter = datamodule(minilm[1], max_length=8)
    shorter.serve_example_keys()
    assert not torch.equal(shorter.datasets["train"].keys, keys)  # truncation changes the input


@pytest.mark.slow
def test_minilm_linear_probe_reuses_encoder_features_with_the_same_results(tmp_path):
    def run(feature_cache: bool):
        lightning.seed_everything(0, verbose=False)
        model, tokenizer = build_text_classifier("minilm", num_labels=2, multilabel=False)
        model.config.hidden_dropout_prob = 0.0
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0  # the cached path runs the frozen encoder without dropout
        model, report = inject_method(model, {"name": "linear_probe"}, head_modules=["classifier"])
        data = datamodule(tokenizer)
        classifier = build_fast_classifier(
            model,
            report,
            datamodule=data,
            backbone="minilm",
            label_names=LABELS,
            multilabel=False,
            learning_rate=1e-2,
            weight_decay=0.0,
            feature_cache=feature_cache,
            compile_model=False,
            cache_folder=tmp_path,
        )
        trainer = quiet_trainer(
            max_epochs=2,
        )
        trainer.fit(classifier, datamodule=data)
        probabilities, _ = classifier.evaluate(trainer, data).in_domain.predictions
        return classifier, probabilities

    cached, cached_probabilities = run(True)
    assert cached.prefix.cut_name == "encoder|classifier"
    assert cached.store.computed == sum(
        len(split) for split in (SPLITS.train, SPLITS.val, SPLITS.test)
    )
    _, plain_probabilities = run(False)
    torch.testing.assert_close(cached_probabilities, plain_probabilities, rtol=1e-4, atol=1e-5)


def test_the_speed_switches_are_typed_config_fields():
    config = load_config([])
    assert (config.data.bucket_by_length, config.data.feature_cache, config.model.compile) == (
        True,
        True,
        False,
    )
    for override in ("data.bucket_by_length=maybe", "data.feature_cache=x", "model.compile=x"):
        with pytest.raises(ConfigError, match=override.split("=")[0]) as refused:
            load_config([override])
        assert "\n" not in str(refused.value)
