"""Which injected models have a frozen prefix, where it is cut, and that the cut is exact."""

import pytest
import torch
from monai.networks.nets import DenseNet
from tiny_models import (
    VOCAB_SIZE,
    tiny_random_bert_classifier,
    tiny_random_efficientnet_classifier,
    tiny_random_vit,
)

from shared.frozen_prefix import (
    FrozenPrefix,
    check_chain,
    find_frozen_prefix,
    prefix_parameter_share,
    stage_chain,
)
from shared.inject import inject_method

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TOP_BLOCKS = r"blocks\.4\..*|conv_head|bn2"


def images() -> torch.Tensor:
    return torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))


def tokens() -> dict[str, torch.Tensor]:
    ids = torch.randint(1, VOCAB_SIZE, (2, 8), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    return {"input_ids": ids, "attention_mask": mask}


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


def prefix_of(build, method: dict) -> tuple[torch.nn.Module, FrozenPrefix | str]:
    model, report = inject_method(build(), method)
    statistics = report.method_config["train_batchnorm_statistics"]
    return model, find_frozen_prefix(model, train_batchnorm_statistics=statistics)


@pytest.mark.parametrize(
    ("build", "inputs", "cut"),
    [
        (tiny_random_efficientnet_classifier, images, "global_pool|classifier"),
        (small_monai_densenet, images, "class_layers.flatten|class_layers.out"),
        (tiny_random_bert_classifier, tokens, "encoder|classifier"),
    ],
)
def test_linear_probe_is_cut_below_the_head_and_the_chain_reproduces_the_model(build, inputs, cut):
    model, prefix = prefix_of(build, {"name": "linear_probe"})
    assert isinstance(prefix, FrozenPrefix) and prefix.cut_name == cut
    assert prefix_parameter_share(prefix, model) > 0.9
    batch = inputs()
    assert check_chain(model, prefix, batch) is None
    model.eval()
    with torch.no_grad():
        output = model(**batch) if isinstance(batch, dict) else model(batch)
        expected = output.logits if hasattr(output, "logits") else output
        torch.testing.assert_close(prefix.run_top(prefix.run_prefix(batch)), expected)


def test_a_method_kept_to_the_top_blocks_is_cut_below_them():
    model, prefix = prefix_of(
        tiny_random_efficientnet_classifier, {"name": "bitfit", "target_modules": TOP_BLOCKS}
    )
    assert isinstance(prefix, FrozenPrefix)
    assert prefix.cut_name.endswith("|blocks.4.0")
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    below = {id(p) for module in prefix.prefix_modules for p in module.parameters()}
    assert trainable and not trainable & below
    assert check_chain(model, prefix, images()) is None


@pytest.mark.parametrize(
    ("build", "method", "reason"),
    [
        (tiny_random_efficientnet_classifier, {"name": "full"}, "first stage"),
        (tiny_random_efficientnet_classifier, {"name": "bitfit"}, "first stage"),
        (tiny_random_efficientnet_classifier, {"name": "ssf"}, "first stage"),
        (tiny_random_efficientnet_classifier, {"name": "lora"}, "of the parameters"),
        (tiny_random_efficientnet_classifier, {"name": "adapter_houlsby"}, "of the parameters"),
        (
            tiny_random_efficientnet_classifier,
            {"name": "linear_probe", "train_batchnorm_statistics": True},
            "BatchNorm statistics",
        ),
        (tiny_random_bert_classifier, {"name": "lora"}, "first stage"),
        (tiny_random_bert_classifier, {"name": "prompt_tuning"}, "outside every stage"),
        (tiny_random_vit, {"name": "linear_probe"}, "no stage chain"),
    ],
)
def test_no_prefix_where_something_below_the_head_trains_or_the_chain_is_unknown(
    build, method, reason
):
    _, prefix = prefix_of(build, method)
    assert isinstance(prefix, str) and reason in prefix


def test_a_chain_that_does_not_reproduce_the_model_is_caught():
    model, prefix = prefix_of(tiny_random_efficientnet_classifier, {"name": "linear_probe"})
    original = model.forward
    model.forward = lambda x: original(x) + 1.0  # as if a release changed the model's forward
    assert "differ" in check_chain(model, prefix, images())


def test_the_weights_digest_follows_the_prefix_tensors_only():
    model, prefix = prefix_of(tiny_random_efficientnet_classifier, {"name": "linear_probe"})
    digest = prefix.weights_digest()
    assert digest == prefix.weights_digest()
    with torch.no_grad():
        model.classifier.weight.add_(1.0)  # above the cut
    assert prefix.weights_digest() == digest
    with torch.no_grad():
        model.conv_stem.weight[0, 0, 0, 0] += 1e-3  # below the cut
    assert prefix.weights_digest() != digest


def test_stage_chain_sees_through_peft_wrappers():
    model, _ = inject_method(tiny_random_bert_classifier(), {"name": "lora"})
    assert type(model).__module__.startswith("peft.")
    assert [stage.name for stage in stage_chain(model)] == ["encoder", "classifier"]
