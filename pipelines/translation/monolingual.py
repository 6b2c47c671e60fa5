"""A monolingual sample of the target language, for the trimmed output vocabulary.

No monolingual corpus ships with the suite, so the sample is drawn from what is there: every
target-language sentence under `<data.data_dir>/translation/` that is neither a test sentence of
the run nor one of its training targets. That is the run's validation targets, and the training
and dev files of the trainable corpora (MAFAND pairs with English or French, Tatoeba) in that
language, without the pairs whose target or source occurs in a test set of the run (compared as
`overlap.drop_test_overlap` does). Test-only corpora (FLORES-200 devtest, TICO-19) and any corpus
the run tests on are never read. For English -> Hausa that leaves MAFAND's own dev targets and the
few training targets left out of training: nothing else under the data folder is Hausa and not a
test set.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines.translation.corpora import TranslationSplits
from pipelines.translation.languages import language_name, same_language
from pipelines.translation.overlap import normalise
from pipelines.translation.parallel_text import read_lines
from shared.datasets import dataset_names, get_dataset

PIPELINE = "translation"
PIVOTS = ("eng", "fra")  # the languages the trainable corpora pair every other language with


@dataclass(frozen=True)
class MonolingualSample:
    """Sentences of the target language, and how many each place offered before sampling."""

    sentences: list[str]
    offered: dict[str, int]  # e.g. {"validation targets": 1300, "mafand en-swa train": 0}


def corpus_files(
    data_dir: str | Path, language: str, skip: Collection[str]
) -> list[tuple[str, Path, Path]]:
    """(label, partner file, file) for every non-test file in `language` of the trainable
    corpora not in `skip`; a corpus whose folder is absent is left out."""
    found: dict[Path, tuple[str, Path]] = {}
    for name in dataset_names(PIPELINE, trainable=True):
        corpus = get_dataset(name, PIPELINE)
        folder = Path(data_dir) / "translation" / corpus.facts.folder
        if name in skip or not folder.is_dir():
            continue
        for pivot in PIVOTS:
            if same_language(pivot, language):
                continue
            try:
                roles = corpus.facts.locate(folder, pivot, language)
            except ValueError:  # this corpus does not pair the language with this pivot
                continue
            for role, (partner_file, target_file) in roles.items():
                label = f"{name} {target_file.parent.name}/{role}"
                if role != "test":
                    found.setdefault(target_file, (label, partner_file))
    return [(label, partner, path) for path, (label, partner) in found.items()]


def outside_tests(partner_file: Path, target_file: Path, test_sources: set[str]) -> list[str]:
    """The lines of `target_file` whose aligned line in `partner_file` is not a test source."""
    targets, partners = read_lines(target_file), read_lines(partner_file)
    if len(partners) != len(targets):  # not aligned: nothing to check the sources against
        return targets
    return [t for t, p in zip(targets, partners, strict=True) if normalise(p) not in test_sources]


def monolingual_sample(
    splits: TranslationSplits,
    data_dir: str | Path | None,
    *,
    count: int,
    seed: int,
    skip_corpora: Collection[str] = (),
) -> MonolingualSample:
    """Up to `count` target-language sentences that are not training targets or test sentences
    of `splits`, a seeded sample (sorted, then shuffled with `seed`).

    Args:
        skip_corpora: corpora the run tests on; their files are not read.

    Raises:
        ValueError: naming vocabulary.monolingual_sentences when there is no such sentence.
    """
    language = splits.target_language
    excluded = {normalise(text) for text in splits.train.targets}
    excluded |= {normalise(text) for test in splits.tests.values() for text in test.targets}
    test_sources = {normalise(text) for test in splits.tests.values() for text in test.sources}
    sources: list[tuple[str, Iterable[str]]] = [("validation targets", splits.val.targets)]
    if data_dir is not None:
        files = corpus_files(data_dir, language, skip_corpora)
        sources += [
            (label, outside_tests(partner, path, test_sources)) for label, partner, path in files
        ]
    pool: dict[str, str] = {}
    offered = {}
    for label, lines in sources:
        before = len(pool)
        for line in lines:
            key = normalise(line)
            if key and key not in excluded:
                pool.setdefault(key, line.strip())
        offered[label] = len(pool) - before
    if not pool:
        raise ValueError(
            f"vocabulary.monolingual_sentences={count}: no {language_name(language)} "
            f"({language}) text outside the training pairs and the test sets was found (read: "
            f"{', '.join(offered) or 'nothing'}); set vocabulary.monolingual_sentences=0 to keep "
            "only the tokens of the training and validation targets."
        )
    ordered = sorted(pool.values())
    chosen = np.random.default_rng(seed).permutation(len(ordered))[:count]
    return MonolingualSample([ordered[index] for index in sorted(chosen)], offered)
