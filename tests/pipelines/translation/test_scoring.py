"""Tests for pipelines.translation.scoring: sacrebleu corpus scores and their signatures."""

import pytest
from tiny_models import TINY_PARALLEL_PAIRS

from pipelines.translation.scoring import translation_scores

REFERENCES = [target for _, target in TINY_PARALLEL_PAIRS]


def test_references_against_themselves_score_100_on_every_metric():
    scores = translation_scores(REFERENCES, REFERENCES)
    for key in ("bleu", "chrf", "chrf_plus_plus"):
        assert scores[key] == pytest.approx(100.0)


def test_signatures_record_tokenisation_and_word_order():
    signatures = translation_scores(REFERENCES, REFERENCES)["signatures"]
    assert set(signatures) == {"bleu", "chrf", "chrf_plus_plus"}
    assert "tok:13a" in signatures["bleu"] and "nrefs:1" in signatures["bleu"]
    assert "nw:0" in signatures["chrf"]  # chrF: characters only
    assert "nw:2" in signatures["chrf_plus_plus"]  # chrF++: plus word bigrams
    assert all("version:" in signature for signature in signatures.values())


def test_worse_hypotheses_score_lower():
    perfect = translation_scores(REFERENCES, REFERENCES)
    shuffled = translation_scores(REFERENCES[1:] + REFERENCES[:1], REFERENCES)
    for key in ("bleu", "chrf", "chrf_plus_plus"):
        assert shuffled[key] < perfect[key]


@pytest.mark.parametrize(("hypotheses", "references"), [(["a"], ["a", "b"]), ([], [])])
def test_mismatched_or_empty_lists_are_rejected(hypotheses, references):
    with pytest.raises(ValueError, match="one hypothesis per reference"):
        translation_scores(hypotheses, references)
