"""Tests for pipelines.translation.vocabulary on tiny random models: which tokens are kept, that
the trimmed layer scores the kept tokens exactly as the whole one (Marian's final bias included),
that the trimmed loss is the full softmax restricted to the kept tokens, that generation only
ever produces kept tokens and otherwise matches the whole model, and that an adapter trained
with a trimmed head loads on the untrimmed model."""

from __future__ import annotations

import pytest
import torch
from tiny_models import (
    tiny_random_gemma3,
    tiny_random_marian,
    tiny_translation_splits,
    tiny_translation_tokenizer,
)
from torch.nn import functional
from transformers import LogitsProcessor

from pipelines.translation.backbones import TranslationBackbone, translation_backbone
from pipelines.translation.collate import TranslationCollator
from pipelines.translation.lightning_module import PeftTranslator
from pipelines.translation.prompts import PromptTemplate
from pipelines.translation.target_logits import predicted_labels, target_only_loss
from pipelines.translation.vocabulary import (
    OutputVocabulary,
    TrimmedOutputLayer,
    build_output_vocabulary,
    byte_token_ids,
    trim_output_layer,
    trimmed_layer,
)
from shared.checkpoint import adapter_state_dict, restore_adapter, save_adapter
from shared.inject import inject_method

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def backbone_for(name: str) -> TranslationBackbone:
    build, appends_eos = {
        "gemma3": (tiny_random_gemma3, False),
        "marian": (tiny_random_marian, True),
    }[name]
    return translation_backbone(build(), tiny_translation_tokenizer(appends_eos=appends_eos))


def collator_for(backbone: TranslationBackbone) -> TranslationCollator:
    return TranslationCollator(
        tokenizer=backbone.tokenizer,
        architecture=backbone.architecture,
        prompt=PromptTemplate(),
        source_language="English",
        target_language="Hausa",
        max_source_tokens=32,
        max_target_tokens=32,
    )


def batch_for(backbone: TranslationBackbone) -> dict:
    splits = tiny_translation_splits()
    texts = zip(splits.train.sources, splits.train.targets, strict=True)
    pairs = [{"source": source, "target": target} for source, target in texts]
    return collator_for(backbone)(pairs[:4])


def target_vocabulary(backbone: TranslationBackbone) -> OutputVocabulary:
    """The special tokens and the tokens of the first four training targets, no byte tokens:
    a small vocabulary, so trimming drops most of the tiny model's 320 tokens."""
    splits = tiny_translation_splits()
    tokenizer = backbone.tokenizer
    newline = tokenizer("\n", add_special_tokens=False)["input_ids"]
    return build_output_vocabulary(
        full_size=backbone.model.get_output_embeddings().weight.shape[0],
        required={
            "special tokens": [tokenizer.all_special_ids + newline],
            "training targets": collator_for(backbone).target_token_ids(splits.train.targets[:4]),
        },
        monolingual=[],
    )


def test_required_tokens_come_first_then_the_most_frequent_monolingual_ones():
    required = {"special tokens": [[0, 1, 2]], "training targets": [[5, 6], [6, 7]]}
    monolingual = [[9, 9, 8], [10, 9, 5]]

    everything = build_output_vocabulary(full_size=20, required=required, monolingual=monolingual)
    assert everything.kept_ids == (0, 1, 2, 5, 6, 7, 8, 9, 10)
    assert everything.counts == {
        "special tokens": 3,
        "training targets": 3,
        "monolingual sample": 3,
    }
    capped = build_output_vocabulary(
        full_size=20, required=required, monolingual=monolingual, max_size=7
    )
    assert capped.kept_ids == (0, 1, 2, 5, 6, 7, 9)  # 9 is the most frequent
    assert capped.coverage([[5, 9, 8, 8]]) == 0.5


def test_a_size_that_would_drop_training_target_tokens_is_refused_naming_the_field():
    required = {"special tokens": [[0, 1]], "training targets": [[5, 6, 7]]}
    with pytest.raises(ValueError, match=r"^vocabulary\.max_size=4: would drop tokens of the tr"):
        build_output_vocabulary(full_size=20, required=required, monolingual=[], max_size=4)


def test_byte_tokens_of_a_byte_level_tokenizer_are_its_256_base_characters():
    assert len(byte_token_ids(tiny_translation_tokenizer())) == 256


@pytest.mark.parametrize("model_name", ["gemma3", "marian"])
def test_trimmed_layer_scores_kept_tokens_as_the_whole_layer_does(model_name):
    backbone = backbone_for(model_name)
    model = backbone.model
    if model_name == "marian":  # a final bias that trimming must fold into the layer
        model.final_logits_bias.normal_()
    inputs = {key: value for key, value in batch_for(backbone)["inputs"].items()}
    with torch.no_grad():
        whole = model(**inputs).logits
        vocabulary = target_vocabulary(backbone)
        trim_output_layer(model, vocabulary)
        trimmed = model(**inputs).logits

    kept = list(vocabulary.kept_ids)
    assert len(kept) < whole.shape[-1] / 2
    torch.testing.assert_close(trimmed[..., kept], whole[..., kept])
    dropped = torch.ones(whole.shape[-1], dtype=torch.bool)
    dropped[kept] = False
    assert (trimmed[..., dropped] == torch.finfo(trimmed.dtype).min).all()
    # The input embeddings stay whole and tied to the (frozen) output weight.
    assert model.get_input_embeddings().weight.shape[0] == vocabulary.full_size
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight


@pytest.mark.parametrize("model_name", ["gemma3", "marian"])
def test_trimmed_loss_is_the_softmax_over_the_kept_tokens(model_name):
    backbone = backbone_for(model_name)
    inputs = batch_for(backbone)["inputs"]
    with torch.no_grad():
        whole = backbone.model(**inputs).logits
        vocabulary = target_vocabulary(backbone)
        trim_output_layer(backbone.model, vocabulary)
        loss = target_only_loss(backbone.model, inputs, backbone.architecture)

    kept = torch.tensor(vocabulary.kept_ids)
    labels = inputs["labels"]
    if backbone.architecture == "causal":
        whole, labels = whole[:, :-1], labels[:, 1:]
    targets = labels != -100
    restricted = whole[targets][:, kept]
    indices = torch.searchsorted(kept, labels[targets])
    torch.testing.assert_close(loss, functional.cross_entropy(restricted, indices))
    assert len(predicted_labels(inputs["labels"], backbone.architecture)) == len(indices)


def test_a_target_outside_the_trimmed_vocabulary_is_an_error_not_a_silent_loss():
    backbone = backbone_for("gemma3")
    layer = trim_output_layer(backbone.model, target_vocabulary(backbone))
    dropped = next(i for i in range(layer.full_size) if i not in set(layer.kept_ids.tolist()))
    with pytest.raises(ValueError, match=rf"target token ids \[{dropped}\] are not in the trimmed"):
        layer.output_indices(torch.tensor([dropped]))


class OnlyThese(LogitsProcessor):
    """The reference: the whole model with every other token made impossible."""

    def __init__(self, kept: tuple[int, ...], size: int) -> None:
        self.dropped = torch.ones(size, dtype=torch.bool)
        self.dropped[list(kept)] = False

    def __call__(self, input_ids, scores):
        return scores.masked_fill(self.dropped, float("-inf"))


@pytest.mark.parametrize("model_name", ["gemma3", "marian"])
def test_generation_maps_trimmed_ids_back_to_the_tokenizers_ids(model_name):
    backbone = backbone_for(model_name)
    model, report = inject_method(backbone.model, {"name": "lora"})
    translator = PeftTranslator(
        model,
        report,
        tokenizer=backbone.tokenizer,
        architecture=backbone.architecture,
        learning_rate=1e-3,
        max_new_tokens=10,
    )
    inputs = batch_for(backbone)["generation_inputs"]
    start = translator.generation_start(inputs)
    vocabulary = target_vocabulary(backbone)
    options = {"max_new_tokens": 10, "do_sample": False, "pad_token_id": 0}
    with torch.no_grad():
        reference = model.generate(
            **inputs, **options, logits_processor=[OnlyThese(vocabulary.kept_ids, 320)]
        )
        trim_output_layer(backbone.model, vocabulary)
        assert trimmed_layer(model) is not None
        trimmed = model.generate(**inputs, **options)
        via_module = translator.generate(inputs)

    assert torch.equal(trimmed, reference)
    assert set(trimmed[:, start:].flatten().tolist()) <= set(vocabulary.kept_ids)
    assert set(via_module[:, start:].flatten().tolist()) <= set(vocabulary.kept_ids)


def test_adapter_trained_with_a_trimmed_head_loads_on_the_untrimmed_model(tmp_path):
    backbone = backbone_for("gemma3")
    vocabulary = target_vocabulary(backbone)
    trim_output_layer(backbone.model, vocabulary)
    model, report = inject_method(backbone.model, {"name": "lora"})
    inputs = batch_for(backbone)["inputs"]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(3):
        target_only_loss(model, inputs, "causal").backward()
        optimizer.step()
        optimizer.zero_grad()
    assert all(".lora_" in name for name in adapter_state_dict(model, report))

    save_adapter(model, report, tmp_path / "adapter.safetensors")
    untrimmed, _ = restore_adapter(backbone_for("gemma3").model, tmp_path / "adapter.safetensors")
    model.eval(), untrimmed.eval()
    with torch.no_grad():
        trimmed_logits = model(**inputs).logits
        whole_logits = untrimmed(**inputs).logits
    kept = list(vocabulary.kept_ids)
    assert whole_logits.shape[-1] == vocabulary.full_size
    torch.testing.assert_close(whole_logits[..., kept], trimmed_logits[..., kept])


def test_full_fine_tuning_through_a_trimmed_head_trains_the_one_shared_embedding():
    backbone = backbone_for("gemma3")
    vocabulary = target_vocabulary(backbone)
    trim_output_layer(backbone.model, vocabulary)
    model, report = inject_method(backbone.model, {"name": "full"})
    embedding = model.get_input_embeddings().weight
    assert model.get_output_embeddings().weight is embedding
    assert report.total_parameters == sum(p.numel() for p in model.parameters())

    target_only_loss(model, batch_for(backbone)["inputs"], "causal").backward()
    rows_with_gradient = set(embedding.grad.abs().sum(dim=1).nonzero().flatten().tolist())
    assert set(vocabulary.kept_ids) <= rows_with_gradient  # every kept row scores, so learns


def test_trimming_twice_or_a_model_without_that_output_layer_is_refused():
    backbone = backbone_for("gemma3")
    vocabulary = target_vocabulary(backbone)
    trim_output_layer(backbone.model, vocabulary)
    with pytest.raises(ValueError, match="already trimmed"):
        trim_output_layer(backbone.model, vocabulary)
    other = OutputVocabulary((0, 1), full_size=7)
    with pytest.raises(ValueError, match=r"vocabulary\.trim: .* no output layer with 7 rows"):
        trim_output_layer(backbone_for("gemma3").model, other)
    assert isinstance(backbone.model.get_output_embeddings(), TrimmedOutputLayer)
