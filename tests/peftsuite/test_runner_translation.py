"""MAFAND English -> Hausa through the runner, on a tiny randomly initialised Gemma-3 decoder.

The real pairs are read and scored; the model is swapped for a tiny random one (plumbing only:
its translations are noise). The pretrained Gemma-3-270M is exercised by
tests/pipelines/translation/test_gemma_gguf.py and benchmarks/mafand_translation.py.
"""

import json
from pathlib import Path

import pytest
from tiny_models import tiny_random_gemma3, tiny_translation_tokenizer

from peftsuite.checks import ConfigError
from peftsuite.config import load_config
from peftsuite.runner import METRICS_FILE, run_experiment
from pipelines.translation import pipeline
from pipelines.translation.backbones import translation_backbone


@pytest.fixture
def tiny_random_decoder(monkeypatch):
    def build(name: str):
        return translation_backbone(tiny_random_gemma3(), tiny_translation_tokenizer(), name)

    monkeypatch.setattr(pipeline, "build_translation_model", build)


def config_for(data_dir: Path, tmp_path: Path, *overrides: str):
    return load_config(
        [
            "experiment=mafand_gemma3_270m",
            f"data.data_dir={data_dir}",
            "data.options.train_pairs=16",
            "data.options.max_test_pairs=6",
            "data.batch_size=4",
            "generation.max_new_tokens=8",
            "generation.val_sentences=4",
            "trainer=smoke",
            f"run.output_dir={tmp_path}",
            *overrides,
        ]
    )


def test_lora_run_scores_in_and_out_of_domain_and_writes_translations(
    tmp_path, data_dir, tiny_random_decoder, one_torch_thread
):
    directory = run_experiment(config_for(data_dir, tmp_path, "method=lora"))
    metrics = json.loads((directory / METRICS_FILE).read_text())

    assert set(metrics["cross_domain"]) == {"flores200", "tico19"}
    for scores in [metrics["test"], *metrics["cross_domain"].values()]:
        assert scores["sentences"] == 6
        assert {"bleu", "chrf", "chrf_plus_plus"} <= set(scores)
        assert scores["signatures"]["chrf"].startswith("nrefs:1")
    assert metrics["data"]["train_size"] == 16 and metrics["data"]["direction"] == "eng-hau"
    assert metrics["costs"]["trainable_parameters"] > 0
    # The experiment trims the output vocabulary: each test set reports its coverage.
    vocabulary = metrics["data"]["vocabulary"]
    assert vocabulary["size"] <= vocabulary["full_size"]
    assert vocabulary["test_reference_coverage"]["test"] == metrics["test"]["vocabulary_coverage"]
    for scores in [metrics["test"], *metrics["cross_domain"].values()]:
        assert 0 < scores["vocabulary_coverage"] <= 1
    padding = metrics["data"]["padding_share"]["train"]
    assert padding["length_buckets"] <= padding["random"]
    for name in ("mafand", "flores200", "tico19"):
        lines = (directory / "translations" / f"{name}.tsv").read_text().splitlines()
        assert lines[0] == "source\treference\thypothesis" and len(lines) == 7
    assert "## flores200" in (directory / "samples.md").read_text()


def test_zero_epochs_scores_the_untrained_model(
    tmp_path, data_dir, tiny_random_decoder, one_torch_thread
):
    directory = run_experiment(
        config_for(data_dir, tmp_path, "method=lora", "trainer.max_epochs=0")
    )
    metrics = json.loads((directory / METRICS_FILE).read_text())
    assert metrics["test"]["sentences"] == 6 and metrics["costs"]["train_samples"] == 0
    assert metrics["costs"]["train_seconds"] == 0  # no fit at all: no sanity validation either


def test_k_shot_is_refused_for_translation_naming_the_fields(
    tmp_path, data_dir, tiny_random_decoder
):
    with pytest.raises(ValueError, match=r"data\.k_shot .* data\.options\.train_pairs"):
        run_experiment(config_for(data_dir, tmp_path, "method=lora", "data.k_shot=5"))


def test_trimming_that_would_drop_training_target_tokens_fails_before_training(
    tmp_path, data_dir, tiny_random_decoder
):
    config = config_for(data_dir, tmp_path, "method=lora", "vocabulary.max_size=20")
    with pytest.raises(ValueError, match=r"^vocabulary\.max_size=20: would drop tokens of the"):
        run_experiment(config)


def test_a_vocabulary_option_on_another_pipeline_is_refused_naming_it(tmp_path):
    with pytest.raises(ConfigError, match=r"vocabulary\.trim.*Key 'vocabulary' not in"):
        load_config(["pipeline=vision", "vocabulary.trim=true", f"run.output_dir={tmp_path}"])


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("generation.no_repeat_ngram_size=-1", "generation.no_repeat_ngram_size"),
        ("generation.repetition_penalty=0", "generation.repetition_penalty"),
        ("vocabulary.monolingual_sentences=-5", "vocabulary.monolingual_sentences"),
        ("vocabulary.max_size=0", "vocabulary.max_size"),
        ("batching.bucket_batches=0", "batching.bucket_batches"),
        ("vocabulary.trim=perhaps", "vocabulary.trim"),
    ],
)
def test_bad_translation_settings_fail_in_one_line_naming_the_field(tmp_path, override, field):
    with pytest.raises(ValueError) as refused:
        load_config(["experiment=mafand_gemma3_270m", override, f"run.output_dir={tmp_path}"])
    message = str(refused.value)
    assert field in message and "\n" not in message
