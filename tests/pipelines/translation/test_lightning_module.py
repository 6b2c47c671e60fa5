"""Tests for pipelines.translation.lightning_module on tiny random models (none pretrained).

A tiny decoder-only Gemma-3, a tiny T5 and a tiny Marian each train through Lightning with LoRA,
IA3 and prompt tuning, then are scored on two test sets, and their adapters restore onto a fresh
base with identical outputs. Generation is checked with a scripted output layer: the prompt is
stripped, translations stop at a newline or eos, and batching changes nothing.
"""

from __future__ import annotations

import copy

import lightning
import pytest
import torch
from tiny_models import (
    tiny_random_gemma3,
    tiny_random_marian,
    tiny_random_t5,
    tiny_translation_splits,
    tiny_translation_tokenizer,
)
from torch.nn import functional

from pipelines.translation.backbones import TranslationBackbone, translation_backbone
from pipelines.translation.collate import IGNORED_LABEL
from pipelines.translation.datamodule import TranslationDataModule
from pipelines.translation.lightning_module import PeftTranslator
from shared.checkpoint import adapter_state_dict, restore_adapter, save_adapter
from shared.inject import inject_method

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MODELS = {
    "gemma3": (tiny_random_gemma3, False),
    "t5": (tiny_random_t5, True),
    "marian": (tiny_random_marian, True),
}
METHODS = ["lora", "ia3", "prompt_tuning"]
MAX_NEW_TOKENS = 12


def tiny_backbone(model_name: str) -> TranslationBackbone:
    build, appends_eos = MODELS[model_name]
    return translation_backbone(build(), tiny_translation_tokenizer(appends_eos=appends_eos))


def datamodule_for(backbone: TranslationBackbone) -> TranslationDataModule:
    module = TranslationDataModule(
        tiny_translation_splits(),
        backbone,
        max_source_tokens=32,
        max_target_tokens=32,
        batch_size=3,
        eval_batch_size=3,
        length_buckets=True,  # test sets come sorted by length; results return to set order
    )
    module.setup()
    return module


def translator(model, report, backbone: TranslationBackbone, **options) -> PeftTranslator:
    return PeftTranslator(
        model,
        report,
        tokenizer=backbone.tokenizer,
        architecture=backbone.architecture,
        learning_rate=1e-2,
        max_new_tokens=MAX_NEW_TOKENS,
        **options,
    )


def trainer(tmp_path, **options) -> lightning.Trainer:
    settings = {
        "max_steps": 2,
        "accelerator": "cpu",
        "logger": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "enable_checkpointing": False,
        "num_sanity_val_steps": 0,
        "default_root_dir": tmp_path,
    }
    return lightning.Trainer(**(settings | options))


def first_batch(loader) -> dict:
    return next(iter(loader))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_tiny_model_trains_tests_and_restores_exactly(model_name, method, tmp_path):
    backbone = tiny_backbone(model_name)
    model, report = inject_method(backbone.model, {"name": method})
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    data = datamodule_for(backbone)
    module = translator(model, report, backbone)

    run = trainer(tmp_path)
    run.fit(module, datamodule=data)
    assert {"val_loss", "val_chrf"} <= set(run.callback_metrics)
    result = module.evaluate(run, data)

    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    moved = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert trainable and moved == trainable, "exactly the method's parameters train"
    # The data module serves the in-domain test set as "test", then the others by name.
    assert list(result.sets) == ["test", "out_of_domain"]
    assert list(result.cross_domain_metrics) == ["out_of_domain"]
    for name, expected in zip(result.sets, tiny_translation_splits().tests.values(), strict=True):
        metrics, samples = result.sets[name].metrics, result.sets[name].predictions
        assert metrics["test_set"] == name
        assert metrics["sentences"] == len(expected)
        assert {"bleu", "chrf", "chrf_plus_plus"} <= set(metrics["signatures"])
        assert metrics["generation_seconds"] > 0 and metrics["generated_tokens_per_second"] > 0
        assert [s["source"] for s in samples] == expected.sources
        assert [s["reference"] for s in samples] == expected.targets

    path = tmp_path / "adapter.safetensors"
    save_adapter(model, report, path)
    restored, _ = restore_adapter(tiny_backbone(model_name).model, path)
    batch = first_batch(data.test_dataloader()[1])
    model.eval(), restored.eval()
    with torch.no_grad():
        assert torch.equal(model(**batch["inputs"]).logits, restored(**batch["inputs"]).logits)
        again = translator(restored, report, backbone).translate(batch["generation_inputs"])
        assert again == module.translate(batch["generation_inputs"])


def test_checkpoint_holds_only_the_trainable_tensors_and_loads_into_a_fresh_module(tmp_path):
    backbone = tiny_backbone("gemma3")
    model, report = inject_method(backbone.model, {"name": "lora"})
    module = translator(model, report, backbone)
    run = trainer(tmp_path)
    run.fit(module, datamodule=datamodule_for(backbone))
    run.save_checkpoint(tmp_path / "module.ckpt")

    state = torch.load(tmp_path / "module.ckpt", weights_only=False)["state_dict"]
    trainable = {f"model.{name}" for name, p in model.named_parameters() if p.requires_grad}
    assert set(state) == trainable
    fresh_model, fresh_report = inject_method(tiny_backbone("gemma3").model, {"name": "lora"})
    fresh = translator(fresh_model, fresh_report, backbone)
    fresh.load_state_dict(state, strict=fresh.strict_loading)
    for name, parameter in fresh.named_parameters():
        if name in state:
            assert torch.equal(parameter, state[name])


def test_validation_generates_only_up_to_its_limit(tmp_path):
    backbone = tiny_backbone("t5")
    model, report = inject_method(backbone.model, {"name": "lora"})
    module = translator(model, report, backbone, val_generation_limit=2)
    trainer(tmp_path).validate(module, datamodule=datamodule_for(backbone), verbose=False)
    assert len(module.val_translations) == 2  # of 4 validation pairs


@pytest.mark.parametrize("model_name", ["gemma3", "t5"])
def test_loss_counts_target_tokens_only(model_name):
    backbone = tiny_backbone(model_name)
    batch = first_batch(datamodule_for(backbone).val_dataloader())
    inputs = batch["inputs"]
    with torch.no_grad():
        output = backbone.model(**inputs)
    logits, labels = output.logits, inputs["labels"]
    if backbone.architecture == "causal":  # position t predicts token t + 1
        logits, labels = logits[:, :-1], labels[:, 1:]
    targets = labels != IGNORED_LABEL
    expected = functional.cross_entropy(logits[targets], labels[targets])
    torch.testing.assert_close(output.loss, expected)
    if backbone.architecture == "causal":
        assert targets.sum() < (inputs["attention_mask"][:, 1:] == 1).sum()  # prompts excluded


def script_output_layer(model, token_ids: list[int]) -> None:
    """Make the output layer pick `token_ids` in order, one per forward call, then token 5."""
    calls = []

    def pick_next(_module, _inputs, logits):
        step = len(calls)
        calls.append(step)
        wanted = token_ids[step] if step < len(token_ids) else 5
        logits = logits.clone()
        logits[..., wanted] += 1e4
        return logits

    model.get_output_embeddings().register_forward_hook(pick_next)


def token_ids(backbone: TranslationBackbone, text: str) -> list[int]:
    return backbone.tokenizer(text, add_special_tokens=False)["input_ids"]


@pytest.mark.parametrize("stop", ["\n", "eos"])
def test_causal_generation_strips_the_prompt_and_stops_at_newline_or_eos(stop):
    backbone = tiny_backbone("gemma3")
    words = token_ids(backbone, " Gidan yana")
    stop_ids = token_ids(backbone, "\n") if stop == "\n" else [backbone.tokenizer.eos_token_id]
    script_output_layer(backbone.model, words + stop_ids + token_ids(backbone, " more"))
    model, report = inject_method(backbone.model, {"name": "lora"})
    batch = first_batch(datamodule_for(backbone).test_dataloader()[1])

    with torch.no_grad():
        hypotheses, generated = translator(model, report, backbone).translate(
            batch["generation_inputs"]
        )
    assert hypotheses == ["Gidan yana"] * 3  # no prompt, nothing after the stop
    assert generated == 3 * (len(words) + 1) < 3 * MAX_NEW_TOKENS


def test_seq2seq_generation_stops_at_eos_and_drops_the_start_token():
    backbone = tiny_backbone("marian")
    words = token_ids(backbone, "Gidan yana")
    script_output_layer(backbone.model, [*words, backbone.tokenizer.eos_token_id, 7, 7])
    model, report = inject_method(backbone.model, {"name": "lora"})
    batch = first_batch(datamodule_for(backbone).test_dataloader()[1])

    with torch.no_grad():
        hypotheses, generated = translator(model, report, backbone).translate(
            batch["generation_inputs"]
        )
    assert hypotheses == ["Gidan yana"] * 3
    assert generated == 3 * (len(words) + 1)


@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_batched_translations_equal_one_at_a_time(model_name):
    backbone = tiny_backbone(model_name)
    model, report = inject_method(backbone.model, {"name": "lora"})
    data = datamodule_for(backbone)
    module = translator(model, report, backbone)
    together = first_batch(data.val_dataloader())
    pairs = zip(together["sources"], together["references"], strict=True)
    with torch.no_grad():
        batched, _ = module.translate(together["generation_inputs"])
        alone = [
            module.translate(data.collate_fn([{"source": s, "target": t}])["generation_inputs"])
            for s, t in pairs
        ]
    alone = [hypotheses[0] for hypotheses, _ in alone]
    assert batched == alone
    if backbone.architecture == "causal":  # left padding shifts the prompts it must not affect
        assert len(set(batched)) > 1, "each prompt should continue differently"


def test_tied_embedding_trains_and_saves_once_with_full_fine_tuning():
    backbone = tiny_backbone("gemma3")
    model = backbone.model
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    injected, report = inject_method(model, {"name": "full"})

    state = adapter_state_dict(injected, report)
    embedding_names = [name for name in state if state[name].shape == model.lm_head.weight.shape]
    assert embedding_names == ["model.embed_tokens.weight"]
    assert report.trainable_parameters == sum(t.numel() for t in state.values())


def test_lora_leaves_the_tied_embedding_frozen_and_out_of_the_adapter():
    backbone = tiny_backbone("gemma3")
    injected, report = inject_method(copy.deepcopy(backbone.model), {"name": "lora"})
    state = adapter_state_dict(injected, report)
    assert state and all(".lora_" in name for name in state)
