"""Tests for pipelines.translation.monolingual on the real corpora: the sample for the trimmed
vocabulary holds no test sentence and no training target, is seeded, reads only non-test files,
and a language with no such text is refused naming the field."""

import dataclasses

import pytest
from tiny_models import tiny_translation_splits

from pipelines.translation.corpora import load_translation_data
from pipelines.translation.monolingual import corpus_files, monolingual_sample
from pipelines.translation.overlap import normalise


@pytest.fixture(scope="module")
def eng_hau(data_dir):
    return load_translation_data(
        "mafand", data_dir, source="eng", target="hau", extra_tests=["flores200", "tico19"]
    )


def test_sample_never_holds_a_test_sentence_or_a_training_target(eng_hau, data_dir):
    sample = monolingual_sample(eng_hau, data_dir, count=5000, seed=0)

    sentences = {normalise(text) for text in sample.sentences}
    assert sentences
    for test in eng_hau.tests.values():
        assert not sentences & {normalise(text) for text in test.targets}
    assert not sentences & {normalise(text) for text in eng_hau.train.targets}
    # No Hausa outside MAFAND's own files and the test sets: the dev targets are most of it.
    assert sample.offered["validation targets"] > 1000
    assert set(sample.offered) <= {"validation targets", "mafand en-hau/train", "mafand en-hau/val"}


def test_sample_is_seeded_and_capped(eng_hau, data_dir):
    first = monolingual_sample(eng_hau, data_dir, count=100, seed=1)
    assert first == monolingual_sample(eng_hau, data_dir, count=100, seed=1)
    assert len(first.sentences) == 100
    assert first != monolingual_sample(eng_hau, data_dir, count=100, seed=2)


def test_only_non_test_files_of_trainable_corpora_are_read(data_dir):
    files = corpus_files(data_dir, "swa", skip=())
    labels = {label for label, _, _ in files}
    assert {"mafand en-swa/train", "mafand en-swa/val"} <= labels
    assert any(label.startswith("tatoeba") for label in labels)
    assert not any("test" in path.name or "devtest" in path.name for _, _, path in files)
    assert not any(
        label.startswith("tatoeba")
        for label, _, _ in corpus_files(data_dir, "swa", skip=["tatoeba"])
    )


def test_a_language_without_monolingual_text_is_refused_naming_the_field(tmp_path):
    splits = tiny_translation_splits()
    nothing_left = dataclasses.replace(splits, val=splits.train.subset([0, 1]))
    with pytest.raises(ValueError, match=r"^vocabulary\.monolingual_sentences=50: no Hausa"):
        monolingual_sample(nothing_left, tmp_path, count=50, seed=0)
