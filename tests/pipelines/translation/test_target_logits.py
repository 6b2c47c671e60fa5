"""Tests for pipelines.translation.target_logits: the target-only loss equals the model's own
full-logits loss (value and gradients) on tiny random decoder-only and encoder-decoder models,
with and without an injected method, while the output layer sees only target positions."""

from __future__ import annotations

import pytest
import torch
from tiny_models import (
    tiny_random_gemma3,
    tiny_random_marian,
    tiny_random_t5,
    tiny_translation_splits,
    tiny_translation_tokenizer,
)

from pipelines.translation.backbones import TranslationBackbone, translation_backbone
from pipelines.translation.collate import IGNORED_LABEL
from pipelines.translation.datamodule import TranslationDataModule
from pipelines.translation.target_logits import (
    decoder_inputs_from_labels,
    predicted_labels,
    predicting_positions,
    target_only_loss,
)
from shared.inject import inject_method

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MODELS = {
    "gemma3": (tiny_random_gemma3, False),
    "t5": (tiny_random_t5, True),
    "marian": (tiny_random_marian, True),
}


def tiny_backbone(model_name: str) -> TranslationBackbone:
    build, appends_eos = MODELS[model_name]
    return translation_backbone(build(), tiny_translation_tokenizer(appends_eos=appends_eos))


def training_batch(backbone: TranslationBackbone) -> dict:
    data = TranslationDataModule(
        tiny_translation_splits(),
        backbone,
        max_source_tokens=32,
        max_target_tokens=32,
        batch_size=4,
        eval_batch_size=4,
    )
    data.setup()
    return data.collate_fn([data.datasets["train"][index] for index in range(4)])


def test_positions_and_labels_line_up_for_both_architectures():
    labels = torch.tensor(
        [[IGNORED_LABEL, IGNORED_LABEL, 7, 8, 1], [IGNORED_LABEL, 5, 1, -100, -100]]
    )

    causal = predicting_positions(labels, "causal")
    assert causal.tolist() == [[False, True, True, True, False], [True, True, False, False, False]]
    assert predicted_labels(labels, "causal").tolist() == [7, 8, 1, 5, 1]
    seq2seq = predicting_positions(labels, "seq2seq")
    assert seq2seq.tolist() == (labels != IGNORED_LABEL).tolist()
    assert predicted_labels(labels, "seq2seq").tolist() == [7, 8, 1, 5, 1]


@pytest.mark.parametrize("method", [None, "lora", "prompt_tuning"])
@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_target_only_loss_equals_the_full_computation(model_name, method):
    backbone = tiny_backbone(model_name)
    model = backbone.model
    if method is not None:
        model, _ = inject_method(model, {"name": method})
    inputs = training_batch(backbone)["inputs"]

    with torch.no_grad():
        full = model(**inputs).loss
        target_only = target_only_loss(model, inputs, backbone.architecture)
    torch.testing.assert_close(target_only, full)


@pytest.mark.parametrize("model_name", ["gemma3", "t5"])
def test_target_only_loss_gives_the_same_gradients(model_name):
    backbone = tiny_backbone(model_name)
    model, _ = inject_method(backbone.model, {"name": "lora"})
    inputs = training_batch(backbone)["inputs"]
    trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
    # LoRA's B starts at zero, which would make A's gradient zero: give it a value.
    with torch.no_grad():
        for name, parameter in trainable.items():
            if "lora_B" in name:
                parameter.normal_(0, 0.1)

    model(**inputs).loss.backward()
    expected = {name: p.grad.clone() for name, p in trainable.items()}
    model.zero_grad()
    target_only_loss(model, inputs, backbone.architecture).backward()
    for name, parameter in trainable.items():
        torch.testing.assert_close(parameter.grad, expected[name], msg=name)


@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_output_layer_computes_target_positions_only(model_name):
    backbone = tiny_backbone(model_name)
    inputs = training_batch(backbone)["inputs"]
    shapes = []
    handle = backbone.model.get_output_embeddings().register_forward_hook(
        lambda _module, _inputs, output: shapes.append(tuple(output.shape))
    )
    with torch.no_grad():
        target_only_loss(backbone.model, inputs, backbone.architecture)
    handle.remove()

    targets = len(predicted_labels(inputs["labels"], backbone.architecture))
    assert shapes == [(targets, backbone.model.config.vocab_size)]
    if backbone.architecture == "causal":  # the prompts are most of a decoder-only batch
        assert targets < 0.7 * inputs["input_ids"].numel()


def test_decoder_inputs_follow_the_models_own_shift():
    backbone = tiny_backbone("marian")
    labels = training_batch(backbone)["inputs"]["labels"]
    expected = backbone.model.prepare_decoder_input_ids_from_labels(labels=labels)
    assert torch.equal(decoder_inputs_from_labels(backbone.model, labels), expected)
    assert expected[0, 0] == backbone.model.config.decoder_start_token_id
