"""The frozen-prefix feature cache in training: used when it should be, refused when it must be,
and the same results as the uncached path.

A tiny timm EfficientNet is trained by Lightning on random images served by the vision data
module, through `build_fast_classifier` as the vision pipeline builds its module.
"""

import lightning
import numpy as np
import pytest
import torch
from quiet_trainer import quiet_trainer
from safetensors.torch import load_file, save_file
from tiny_models import NUM_CLASSES, tiny_random_efficientnet_classifier

from peftsuite.checks import ConfigError
from peftsuite.config import load_config
from pipelines.vision.datamodule import ImageClassificationDataModule
from pipelines.vision.datasets import ImageClassificationSplits, ImageExamples
from shared.fast_classifier import FastClassifier, build_fast_classifier
from shared.feature_cache import EXAMPLE_KEYS, RefusedCacheWarning, _checksum
from shared.inject import inject_method

pytestmark = pytest.mark.usefixtures("one_torch_thread")
LABELS = ["a", "b", "c"][:NUM_CLASSES]
SIZES = {"train": 24, "val": 8, "test": 8}
EVERY_EXAMPLE = sum(SIZES.values())
MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def examples(count: int, seed: int) -> ImageExamples:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, 28, 28, 3), dtype=np.uint8)
    return ImageExamples(images, np.arange(count, dtype=np.int64) % NUM_CLASSES)


SPLITS = ImageClassificationSplits(
    **{split: examples(count, seed) for seed, (split, count) in enumerate(SIZES.items())},
    label_names=LABELS,
    flip_preserves_labels=True,
)


def run(tmp_path, *, method="linear_probe", feature_cache=True, mean=MEAN, **data):
    """Train 2 epochs and test; returns the module, its test probabilities and the data module."""
    lightning.seed_everything(0, verbose=False)
    model, report = inject_method(tiny_random_efficientnet_classifier(), {"name": method})
    datamodule = ImageClassificationDataModule(
        SPLITS,
        **{
            "image_size": 32,
            "mean": mean,
            "std": STD,
            "augment": False,
            "batch_size": 8,
            "eval_batch_size": 8,
            **data,
        },
    )
    module = build_fast_classifier(
        model,
        report,
        datamodule=datamodule,
        backbone="tiny_random_efficientnet",
        label_names=LABELS,
        multilabel=False,
        learning_rate=1e-2,
        weight_decay=0.0,
        feature_cache=feature_cache,
        compile_model=False,
        cache_folder=tmp_path / "cache",
    )
    trainer = quiet_trainer(
        max_epochs=2,
        default_root_dir=tmp_path,
    )
    trainer.fit(module, datamodule=datamodule)
    probabilities, _ = module.evaluate(trainer, datamodule).in_domain.predictions
    return module, probabilities, datamodule


def assert_same_training(cached, uncached) -> None:
    (cached_module, cached_probabilities, _), (plain_module, plain_probabilities, _) = (
        cached,
        uncached,
    )
    torch.testing.assert_close(cached_probabilities, plain_probabilities, rtol=1e-4, atol=1e-5)
    for (name, trained), (_, reference) in zip(
        cached_module.model.classifier.named_parameters(),
        plain_module.model.classifier.named_parameters(),
        strict=True,
    ):
        torch.testing.assert_close(trained, reference, rtol=1e-4, atol=1e-5, msg=name)


def test_linear_probe_computes_each_prefix_once_and_trains_as_the_uncached_path(tmp_path):
    cached = run(tmp_path)
    module, _, datamodule = cached
    store = module.store
    assert module.prefix is not None and module.prefix.cut_name == "global_pool|classifier"
    # Every example's features computed exactly once, in 2 epochs, sanity check, and the test.
    assert store.computed == EVERY_EXAMPLE and store.loaded == 0
    assert store.reused >= SIZES["train"] + SIZES["val"]
    assert EXAMPLE_KEYS in next(iter(datamodule.train_dataloader()))
    uncached = run(tmp_path, feature_cache=False)
    assert uncached[0].prefix is None and EXAMPLE_KEYS not in next(
        iter(uncached[2].val_dataloader())
    )
    assert_same_training(cached, uncached)


def test_a_second_run_reuses_the_stored_features(tmp_path):
    first = run(tmp_path)
    second = run(tmp_path)
    store = second[0].store
    assert store.folder == first[0].store.folder and store.loaded == EVERY_EXAMPLE
    assert store.computed == 0 and store.refused == 0 and store.verified
    assert_same_training(second, first)


def test_a_changed_input_pipeline_reuses_nothing(tmp_path):
    run(tmp_path)
    changed = run(tmp_path, mean=(0.4, 0.5, 0.6))
    store = changed[0].store
    assert store.loaded == EVERY_EXAMPLE  # the same prefix, so the same store...
    assert store.computed == EVERY_EXAMPLE  # ...but none of its rows fit the new inputs
    assert_same_training(changed, run(tmp_path, mean=(0.4, 0.5, 0.6), feature_cache=False))


@pytest.mark.parametrize("method", ["lora", "bitfit", "full"])
def test_no_cache_when_the_prefix_is_not_frozen(tmp_path, method):
    module, _, datamodule = run(tmp_path, method=method)
    assert module.prefix is None and module.store is None
    assert EXAMPLE_KEYS not in next(iter(datamodule.val_dataloader()))
    assert not (tmp_path / "cache").exists()


def test_augmented_training_batches_take_the_whole_model(tmp_path):
    module, _, datamodule = run(tmp_path, augment=True)
    assert EXAMPLE_KEYS not in next(iter(datamodule.train_dataloader()))
    assert EXAMPLE_KEYS in next(iter(datamodule.val_dataloader()))
    assert module.store.computed == SIZES["val"] + SIZES["test"]


def test_stale_stored_features_are_refused_and_recomputed(tmp_path):
    first = run(tmp_path)
    for shard in first[0].store.folder.glob("shard-*.safetensors"):
        tensors = load_file(str(shard))
        tensors["features"] = torch.randn_like(tensors["features"])  # a valid shard, wrong rows
        metadata = {"store": first[0].store.name, "checksum": _checksum(**tensors)}
        save_file(tensors, str(shard), metadata=metadata)
    with pytest.warns(RefusedCacheWarning, match="differ from the stored"):
        second = run(tmp_path)
    assert second[0].store.refused == 1 and second[0].store.computed == EVERY_EXAMPLE
    assert_same_training(second, first)


def test_channels_last_batches_train_as_channel_first_ones(tmp_path):
    model_first = run(tmp_path, method="lora", channels_last=False)
    model_last = run(tmp_path, method="lora", channels_last=True)
    datamodule = model_last[2]
    batch = datamodule.on_after_batch_transfer(next(iter(datamodule.val_dataloader())), 0)
    assert batch["inputs"].is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(model_last[1], model_first[1], rtol=1e-3, atol=1e-4)


def test_the_speed_switches_are_typed_config_fields():
    config = load_config(["pipeline=vision"])
    assert (config.data.channels_last, config.data.feature_cache, config.model.compile) == (
        True,
        True,
        False,
    )
    off = load_config(["pipeline=vision", "data.channels_last=false", "model.compile=true"])
    assert (off.data.channels_last, off.model.compile) == (False, True)
    for override in ("data.channels_last=sometimes", "data.feature_cache=often", "model.compile=x"):
        with pytest.raises(ConfigError, match=override.split("=")[0]) as refused:
            load_config(["pipeline=vision", override])
        assert "\n" not in str(refused.value)


def test_a_compiled_forward_keeps_the_module_tree_and_the_outputs():
    model, report = inject_method(tiny_random_efficientnet_classifier(), {"name": "lora"})
    arguments = dict(label_names=LABELS, multilabel=False, learning_rate=1e-3)
    compiled = FastClassifier(
        model, report, compile_model=True, compile_backend="eager", **arguments
    )
    plain = FastClassifier(model, report, **arguments)
    assert compiled.compiled_model is not None and plain.compiled_model is None
    assert compiled.state_dict().keys() == plain.state_dict().keys()
    assert not any("_orig_mod" in name for name in compiled.state_dict())
    images = torch.randn(2, 3, 32, 32)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(compiled(images), plain(images))
