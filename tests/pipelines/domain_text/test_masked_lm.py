"""Masked-LM domain adapters: the loss counts masked positions only, evaluation masks are fixed,
and a MiniLM domain adapter from masked-LM stacks under a clinical classifier's task adapter."""

from __future__ import annotations

import pytest
import torch
from transformers import BertConfig, BertForMaskedLM

from pipelines.domain_text.language_model import (
    IGNORED,
    MaskedLanguageModule,
    token_accuracy_counts,
)
from pipelines.domain_text.pipeline import HEAD, MaskingCollator, build_masked_lm
from shared.checkpoint import save_adapter
from shared.inject import inject_method
from shared.stacking import stack_domain_adapters


def tiny_random_masked_lm() -> BertForMaskedLM:
    """A 2-layer, 32-wide BERT with a masked-LM head tied to its embeddings, random."""
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=50,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=32,
    )
    return BertForMaskedLM(config).eval()


def test_the_loss_is_cross_entropy_over_masked_positions_only():
    model = tiny_random_masked_lm()
    input_ids = torch.randint(5, 50, (3, 10), generator=torch.Generator().manual_seed(1))
    labels = torch.full_like(input_ids, IGNORED)
    labels[:, [2, 7]] = input_ids[:, [2, 7]]
    batch = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids), "labels": labels}
    model, report = inject_method(model, {"name": "lora", "target_modules": ["query"]})
    module = MaskedLanguageModule(model, report, learning_rate=1e-3)
    loss, logits = module.loss_and_logits(batch)
    masked = labels != IGNORED
    expected = torch.nn.functional.cross_entropy(logits[masked], labels[masked])
    torch.testing.assert_close(loss, expected)
    assert token_accuracy_counts(logits, labels)[1] == 6


@pytest.fixture(scope="module")
def minilm_masked_lm():
    return build_masked_lm("minilm")


@pytest.mark.slow
def test_evaluation_masks_are_fixed_and_cover_the_rate(minilm_masked_lm):
    _, tokenizer = minilm_masked_lm
    texts = ["The patient presents with chest pain and shortness of breath since morning."] * 8
    evaluation = MaskingCollator(tokenizer, 64, 0.15, False, seed=3)
    first, again = evaluation(texts), MaskingCollator(tokenizer, 64, 0.15, False, seed=3)(texts)
    assert torch.equal(first["labels"], again["labels"])
    masked = first["labels"] != IGNORED
    special = first["input_ids"] == tokenizer.cls_token_id
    assert not (masked & special).any()
    assert 0.05 < masked.float().mean() < 0.3
    whole_words = MaskingCollator(tokenizer, 64, 0.15, True, seed=3)(texts)
    assert (whole_words["labels"] != IGNORED).any()


@pytest.mark.slow
def test_a_masked_lm_domain_adapter_stacks_under_a_minilm_classifier(minilm_masked_lm, tmp_path):
    from pipelines.clinical_text.backbone import build_text_classifier

    model, tokenizer = minilm_masked_lm
    domain, report = inject_method(model, {"name": "lora"}, head_modules=HEAD)
    assert not domain.get_input_embeddings().weight.requires_grad  # the tied output layer
    with torch.no_grad():
        for name, parameter in domain.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.02)  # as if trained: a LoRA with B = 0 adds nothing
    path = tmp_path / "adapter.safetensors"
    save_adapter(domain, report, path)

    classifier, _ = build_text_classifier("minilm", num_labels=3, multilabel=False)
    stacked, [member] = stack_domain_adapters(classifier, [path], head_modules=["classifier"])
    inputs = tokenizer(["fever and cough for three days"], return_tensors="pt")
    with torch.no_grad():
        on = stacked(**inputs).logits
        with member.disabled():
            off = stacked(**inputs).logits
    assert member.parameters == report.trainable_parameters - sum(
        p.numel() for n, p in domain.named_parameters() if p.requires_grad and "cls." in n
    )
    assert not torch.allclose(on, off)
