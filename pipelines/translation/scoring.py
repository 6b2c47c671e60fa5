"""Corpus-level BLEU, chrF and chrF++ from sacrebleu, with the signatures that make them comparable.

A BLEU number means little without its tokenisation, casing and smoothing; sacrebleu's signature
(`nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0`) records them, so every score
goes out with its signature. chrF (Popović 2015) scores character n-grams and suits the
morphologically rich, low-resource languages BLEU under-rates; chrF++ adds word bigrams
(Popović 2017). Post 2018, "A Call for Clarity in Reporting BLEU Scores", arXiv:1804.08771.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sacrebleu.metrics import BLEU, CHRF


def corpus_metrics() -> dict[str, BLEU | CHRF]:
    """sacrebleu's defaults for each score, by the key it has in metrics.json."""
    return {"bleu": BLEU(), "chrf": CHRF(), "chrf_plus_plus": CHRF(word_order=2)}


def translation_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
    """Corpus BLEU, chrF and chrF++ (0-100) against one reference each, and their signatures.

    Raises:
        ValueError: when the lists differ in length or are empty.
    """
    if len(hypotheses) != len(references) or not references:
        raise ValueError(
            f"scoring needs one hypothesis per reference and at least one pair; got "
            f"{len(hypotheses)} hypotheses and {len(references)} references"
        )
    scores: dict[str, Any] = {"signatures": {}}
    for key, metric in corpus_metrics().items():
        scores[key] = metric.corpus_score(list(hypotheses), [list(references)]).score
        scores["signatures"][key] = str(metric.get_signature())
    return scores
