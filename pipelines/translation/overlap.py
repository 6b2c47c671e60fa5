"""Keeping test sentences out of training: a test sentence seen in training inflates its score.

Corpora repeat boilerplate ("In the Name of Allah, the Beneficent, the Merciful" opens dozens of
MAFAND en-hau articles) and out-of-domain test sets can share sentences with training data, so
train and val pairs are compared with every test set of the run and dropped on a match.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection

from pipelines.translation.parallel_text import ParallelText


def normalise(text: str) -> str:
    """The form in which sentences are compared for test overlap: NFC, one space, casefolded."""
    return " ".join(unicodedata.normalize("NFC", text).split()).casefold()


def drop_test_overlap(
    train: ParallelText, val: ParallelText, tests: Collection[ParallelText]
) -> tuple[ParallelText, ParallelText, dict[str, int]]:
    """Drop train and val pairs whose source or target occurs in a test set; count the drops."""
    test_sources = {normalise(text) for test in tests for text in test.sources}
    test_targets = {normalise(text) for test in tests for text in test.targets}
    kept, dropped = [], {}
    for role, pairs in (("train", train), ("val", val)):
        keep = [
            index
            for index, (source, target) in enumerate(zip(pairs.sources, pairs.targets, strict=True))
            if normalise(source) not in test_sources and normalise(target) not in test_targets
        ]
        kept.append(pairs.subset(keep))
        dropped[role] = len(pairs) - len(keep)
    return kept[0], kept[1], dropped
