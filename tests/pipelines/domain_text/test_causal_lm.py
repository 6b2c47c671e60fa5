"""Causal-LM language adapters on a decoder: the domain text holds no test sentence, the loss and
accuracy score next tokens, and the adapter stacks under a translation task adapter with the
proof in metrics.json. The decoder is a tiny randomly initialised Gemma-3 (plumbing only)."""

from __future__ import annotations

import json

import pytest
import torch
from tiny_models import tiny_random_gemma3, tiny_translation_tokenizer

from peftsuite.config import load_config
from peftsuite.runner import METRICS_FILE, run_experiment
from pipelines.domain_text import pipeline as domain_pipeline
from pipelines.domain_text.corpora import load_mafand_target_text
from pipelines.domain_text.language_model import CausalLanguageModule, token_accuracy_counts
from pipelines.domain_text.pipeline import CausalCollator
from pipelines.translation import pipeline as translation_pipeline
from pipelines.translation.backbones import translation_backbone
from pipelines.translation.corpora import load_translation_data
from pipelines.translation.overlap import normalise
from shared.inject import inject_method


@pytest.fixture
def tiny_random_decoders(monkeypatch):
    """Both pipelines build the same tiny random Gemma-3 with the same tokenizer."""

    def build(name: str):
        return translation_backbone(tiny_random_gemma3(), tiny_translation_tokenizer(), name)

    monkeypatch.setattr(translation_pipeline, "build_translation_model", build)
    monkeypatch.setattr(domain_pipeline, "build_translation_model", build)


def test_the_domain_text_holds_no_sentence_of_any_translation_test_set(data_dir):
    splits = load_mafand_target_text(data_dir, seed=0, source="eng", target="hau")
    domain = [*splits.train, *splits.val, *splits.test]
    assert len(domain) == len(set(domain)) > 2000
    tests = load_translation_data(
        "mafand", data_dir, source="eng", target="hau", extra_tests=["flores200", "tico19"]
    )
    held_out = {normalise(t) for pairs in [tests.val, *tests.tests.values()] for t in pairs.targets}
    assert not {normalise(text) for text in domain} & held_out


def test_loss_and_accuracy_score_each_next_token_and_ignore_padding(one_torch_thread):
    tokenizer = tiny_translation_tokenizer()
    batch = CausalCollator(tokenizer, max_length=32)(["ina kwana", "sannu da zuwa gida"])
    padding = batch["attention_mask"] == 0
    assert padding.any() and (batch["labels"][padding] == -100).all()
    model, report = inject_method(tiny_random_gemma3(), {"name": "lora"})
    module = CausalLanguageModule(model, report, learning_rate=1e-3)
    loss, logits = module.loss_and_logits(batch)
    shifted, labels = module.aligned(logits, batch["labels"])
    kept = labels != -100
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(shifted[kept], labels[kept]))
    real_tokens = int(batch["attention_mask"].sum())
    assert token_accuracy_counts(shifted, labels)[1] == real_tokens - 2  # no target for the first


@pytest.mark.slow
def test_a_language_adapter_run_stacks_under_a_translation_run(
    tmp_path, data_dir, tiny_random_decoders, one_torch_thread
):
    common = [f"data.data_dir={data_dir}", "trainer=smoke", f"run.output_dir={tmp_path}"]
    domain_run = run_experiment(
        load_config(["experiment=hausa_language_adapter_gemma3_270m", "method=lora", *common])
    )
    domain = json.loads((domain_run / METRICS_FILE).read_text())
    assert domain["data"]["objective"] == "causal"
    assert {"token_accuracy", "perplexity"} <= set(domain["test"])
    task_run = run_experiment(
        load_config(
            [
                "experiment=mafand_gemma3_270m",
                "method=lora",
                "data.options.train_pairs=16",
                "data.options.max_test_pairs=4",
                "generation.max_new_tokens=4",
                "generation.val_sentences=2",
                f"stack.domain_adapters=[{domain_run}]",
                *common,
            ]
        )
    )
    stack = json.loads((task_run / METRICS_FILE).read_text())["stack"]
    [member] = stack["members"]
    assert member["method"] == "lora" and member["parameters"] > 0
    proof = stack["proof"]
    assert proof["domain_members_active"][member["file"]] > 0
    assert proof["gradients"]["tensors_with_gradient"] == proof["gradients"]["declared_trainable"]
