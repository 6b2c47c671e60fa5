"""Channels-last layout: the same outputs and gradients as channel-first, on timm and MONAI CNNs."""

import pytest
import torch
from monai.networks.nets import DenseNet
from tiny_models import tiny_random_efficientnet_classifier, tiny_random_vit

from shared.inject import inject_method
from shared.memory_format import (
    batch_to_channels_last,
    has_2d_convolutions,
    is_channels_last,
    to_channels_last,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


def assert_close_to_scale(actual: torch.Tensor, expected: torch.Tensor, scale: float) -> None:
    """Close up to float summation order: weight gradients sum over batch and pixels, and the
    two layouts sum in different orders. `scale` is the largest gradient of the model, so
    gradients that are zero in exact arithmetic (a bias before a train-mode BatchNorm) pass."""
    torch.testing.assert_close(actual, expected, rtol=1e-3, atol=1e-4 * scale)


def small_monai_densenet() -> torch.nn.Module:
    torch.manual_seed(0)
    return DenseNet(
        spatial_dims=2,
        in_channels=3,
        out_channels=3,
        init_features=8,
        growth_rate=4,
        block_config=(2, 2),
    ).eval()


def outputs_and_gradients(model: torch.nn.Module, images: torch.Tensor):
    images = images.clone().requires_grad_(True)
    output = model(images)
    output.square().sum().backward()
    gradients = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return output.detach(), images.grad, gradients


@pytest.mark.parametrize("build", [tiny_random_efficientnet_classifier, small_monai_densenet])
@pytest.mark.parametrize("method", ["full", "lora", "adapter_houlsby"])
def test_channels_last_matches_channel_first_outputs_and_gradients(build, method):
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    results = []
    for channels_last in (False, True):
        model, _ = inject_method(build(), {"name": method})
        model.train()
        if channels_last:
            to_channels_last(model)
            assert is_channels_last(model)
        inputs = batch_to_channels_last(images) if channels_last else images
        results.append(outputs_and_gradients(model, inputs))
    (first_out, first_in_grad, first_grads), (last_out, last_in_grad, last_grads) = results
    torch.testing.assert_close(last_out, first_out, **TOLERANCE)
    assert_close_to_scale(last_in_grad, first_in_grad, first_in_grad.abs().max().item())
    assert last_grads.keys() == first_grads.keys() and first_grads
    scale = max(gradient.abs().max().item() for gradient in first_grads.values())
    for name, gradient in first_grads.items():
        assert_close_to_scale(last_grads[name], gradient, scale)


def test_models_without_2d_convolutions_are_left_as_they_are():
    vit = tiny_random_vit()
    assert has_2d_convolutions(vit)  # its patch embedding is a convolution
    linear = torch.nn.Sequential(torch.nn.Linear(4, 2))
    assert not has_2d_convolutions(linear)
    assert to_channels_last(linear) is linear and not is_channels_last(linear)


def test_only_4d_float_tensors_of_a_batch_change_layout():
    batch = {
        "inputs": torch.randn(2, 3, 8, 8),
        "labels": torch.tensor([0, 1]),
        "keys": torch.zeros(2, 16, 1, 1, dtype=torch.uint8),
        "nested": [torch.randn(2, 3, 4, 4)],
    }
    converted = batch_to_channels_last(batch)
    assert converted["inputs"].is_contiguous(memory_format=torch.channels_last)
    assert not converted["inputs"].is_contiguous()
    assert converted["nested"][0].is_contiguous(memory_format=torch.channels_last)
    assert converted["labels"] is batch["labels"] and converted["keys"] is batch["keys"]
    torch.testing.assert_close(converted["inputs"], batch["inputs"], rtol=0, atol=0)
