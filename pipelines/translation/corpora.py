"""Parallel corpora for the translation pipeline: train/val pairs and one or more test sets.

One registry, `TRANSLATION_CORPORA`, is the single list of corpus names (`data.name`). Two can be
trained on: MAFAND-MT (news, 21 African languages paired with English or French; its dev split is
our val split) and Tatoeba (short everyday sentences, 112 languages paired with English; it has no
splits, so it is split 70/15/15 with `seed`). FLORES-200 devtest and TICO-19 hold a test set only
and are added as out-of-domain tests with `data.options.extra_tests`. Files are read from
`<data.data_dir>/translation/` (CI: `../shared/data`) and never copied into the repository.

Every run of the same options and seed gets the same pairs, and no test sentence is trained on:
train and val pairs whose source or target also occurs in any test set (compared after Unicode
NFC, whitespace collapsing and casefolding) are dropped, and `TranslationSplits.notes` counts
them, as it counts pairs dropped for an empty side under `data.options.drop_empty=true`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipelines.translation.corpus_layouts import (
    PairFiles,
    locate_flores200,
    locate_mafand,
    locate_tatoeba,
    locate_tico19,
)
from pipelines.translation.languages import language_name, same_language
from pipelines.translation.overlap import drop_test_overlap
from pipelines.translation.parallel_text import ParallelText, read_parallel, subsample_pairs

__all__ = [
    "TRANSLATION_CORPORA",
    "ParallelText",
    "TranslationSplits",
    "language_name",
    "load_translation_data",
    "subsample_pairs",
]

# Test sets capped by data.options.max_test_pairs keep the same pairs whatever the run's seed, so
# scores of different seeds and methods are over the same sentences.
TEST_CAP_SEED = 0
COMMON_OPTIONS: dict[str, Any] = {"extra_tests": (), "max_test_pairs": None, "drop_empty": False}


@dataclass(frozen=True)
class TranslationSplits:
    """Pairs to train on, to select models with, and to test on, all in one direction.

    `notes` holds what the data summary must report: pairs dropped for overlapping a test set
    (`dropped_overlap`, per split) or for an empty side (`dropped_empty`, per file pair), the
    test sizes before `max_test_pairs` capped them, and how train/val/test were split.
    """

    train: ParallelText
    val: ParallelText
    tests: dict[str, ParallelText]  # in-domain test first, then the extra tests in order asked
    source_language: str  # ISO 639-3, as asked, e.g. "eng"
    target_language: str
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Corpus:
    """A registry entry: where the corpus lives, how to find a pair's files, its options.

    `options` are the training options and their defaults; None marks a test-only corpus.
    """

    folder: str  # under <data.data_dir>/translation/
    locate: Callable[[Path, str, str], PairFiles]
    source: str  # where to get it and its license, for error messages
    options: Mapping[str, Any] | None = None


def load_translation_data(
    name: str,
    data_dir: str | Path | None,
    *,
    source: str,
    target: str,
    seed: int = 0,
    **options: Any,
) -> TranslationSplits:
    """Read corpus `name` in the direction `source` -> `target`, with its test sets.

    Args:
        name: a trainable key of `TRANSLATION_CORPORA` (`data.name`): mafand or tatoeba.
        data_dir: folder holding `translation/` (`data.data_dir`).
        source: ISO 639-3 code of the language translated from, e.g. "eng".
        target: ISO 639-3 code of the language translated into, e.g. "hau".
        seed: seeds Tatoeba's split; MAFAND's splits and the capped test sets do not depend on it.
        options: `extra_tests` (test-only corpora to add, e.g. [flores200, tico19]),
            `max_test_pairs` (cap every test set to a fixed subset of this many pairs),
            `drop_empty` (drop pairs with an empty side instead of raising), and for tatoeba
            `val_fraction` and `test_fraction`; see `TRANSLATION_CORPORA[name].options`.
    """
    corpus = _trainable_corpus(name)
    unknown = sorted(set(options) - set(corpus.options))
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(f'data.options.{key}' for key in unknown)} for "
            f"data.name={name!r}; valid options: source, target, {', '.join(corpus.options)}."
        )
    options = {**corpus.options, **options}
    _check_options(name, source, target, options)
    notes: dict[str, Any] = {"dropped_empty": {}}
    train, val, test = _read_in_domain(name, data_dir, source, target, seed, options, notes)
    tests = {name: test}
    for extra in options["extra_tests"]:
        extra_files = _locate(extra, data_dir, source, target, setting="data.options.extra_tests")
        role = "test" if "test" in extra_files else "all"
        tests[extra] = _read(extra, "test", extra_files[role], source, target, options, notes)
    train, val, notes["dropped_overlap"] = drop_test_overlap(train, val, list(tests.values()))
    if not len(train):
        raise ValueError(f"{train.origin}: every training pair also occurs in a test set.")
    notes["test_pairs_before_cap"] = {key: len(pairs) for key, pairs in tests.items()}
    notes["max_test_pairs"] = options["max_test_pairs"]
    if options["max_test_pairs"] is not None:
        tests = {key: _cap(pairs, options["max_test_pairs"]) for key, pairs in tests.items()}
    return TranslationSplits(train, val, tests, source, target, notes)


def _trainable_corpus(name: str) -> Corpus:
    corpus = TRANSLATION_CORPORA.get(name)
    trainable = [key for key, entry in TRANSLATION_CORPORA.items() if entry.options is not None]
    if corpus is None:
        raise ValueError(
            f"data.name={name!r} is not a translation corpus; valid names: "
            f"{', '.join(trainable)} (and as extra tests: {', '.join(TRANSLATION_CORPORA)})."
        )
    if corpus.options is None:
        raise ValueError(
            f"data.name={name!r} holds a test set only; train on one of {', '.join(trainable)} "
            f"and add it with data.options.extra_tests=[{name}]."
        )
    return corpus


def _check_options(name: str, source: str, target: str, options: Mapping[str, Any]) -> None:
    for key, code in (("source", source), ("target", target)):
        if not isinstance(code, str) or not code:
            raise ValueError(f"data.options.{key} must be an ISO 639-3 code, got {code!r}.")
    if same_language(source, target):
        raise ValueError(
            f"data.options.source={source!r} and data.options.target={target!r} name the same "
            "language; translation needs two."
        )
    extra_tests = options["extra_tests"]
    if isinstance(extra_tests, str) or not isinstance(extra_tests, Sequence):
        raise ValueError(
            f"data.options.extra_tests must be a list of corpus names, got {extra_tests!r}."
        )
    for extra in extra_tests:
        if extra not in TRANSLATION_CORPORA or extra == name:
            raise ValueError(
                f"data.options.extra_tests names {extra!r}; valid names: "
                f"{', '.join(key for key in TRANSLATION_CORPORA if key != name)}."
            )
    if len(set(extra_tests)) != len(extra_tests):
        raise ValueError(f"data.options.extra_tests names a corpus twice: {list(extra_tests)}.")
    cap = options["max_test_pairs"]
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
        raise ValueError(f"data.options.max_test_pairs must be null or >= 1, got {cap!r}.")
    if not isinstance(options["drop_empty"], bool):
        raise ValueError(
            f"data.options.drop_empty must be true or false, got {options['drop_empty']!r}."
        )
    if "val_fraction" in options:
        _check_split_fractions(options["val_fraction"], options["test_fraction"])


def _check_split_fractions(val_fraction: Any, test_fraction: Any) -> None:
    for key, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            raise ValueError(f"data.options.{key} must be in (0, 1), got {value!r}.")
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            f"data.options.val_fraction={val_fraction} and test_fraction={test_fraction} leave "
            "nothing to train on; their sum must be below 1."
        )


def _read_in_domain(
    name: str,
    data_dir: str | Path | None,
    source: str,
    target: str,
    seed: int,
    options: Mapping[str, Any],
    notes: dict[str, Any],
) -> tuple[ParallelText, ParallelText, ParallelText]:
    """The corpus' own train, val and test pairs: its official splits, or a seeded split."""
    files = _locate(name, data_dir, source, target)
    if "all" in files:
        pairs = _read(name, "all", files["all"], source, target, options, notes)
        val_fraction, test_fraction = options["val_fraction"], options["test_fraction"]
        notes["split"] = (
            f"{name} has no splits: seeded split (seed {seed}), val {val_fraction}, "
            f"test {test_fraction} of {len(pairs)} pairs"
        )
        return _split(pairs, f"{name} {source}-{target}", seed, val_fraction, test_fraction)
    missing = sorted({"train", "val", "test"} - set(files))
    if missing:
        raise ValueError(
            f"{name} {source}-{target} has no {' or '.join(missing)} split (files for "
            f"{', '.join(sorted(files))} only); choose a language pair with training data."
        )
    notes["split"] = f"{name}'s own train/dev/test files (dev is val)"
    return tuple(
        _read(name, role, files[role], source, target, options, notes)
        for role in ("train", "val", "test")
    )


def _locate(
    name: str, data_dir: str | Path | None, source: str, target: str, setting: str = "data.name"
) -> PairFiles:
    corpus = TRANSLATION_CORPORA[name]
    relative = f"translation/{corpus.folder}"
    help_text = (
        f"Get it from {corpus.source}, or point data.data_dir=... at a folder holding "
        f"{relative}/ (CI uses ../shared/data)."
    )
    if data_dir is None:
        raise FileNotFoundError(
            f"{setting} names {name!r}, read from <data.data_dir>/{relative}/, but data.data_dir "
            "is not set. " + help_text
        )
    folder = Path(data_dir) / relative
    if not folder.is_dir():
        raise FileNotFoundError(f"{setting} names {name!r}: {folder} does not exist. " + help_text)
    return corpus.locate(folder, source, target)


def _read(
    name: str,
    role: str,
    files: tuple[Path, Path],
    source: str,
    target: str,
    options: Mapping[str, Any],
    notes: dict[str, Any],
) -> ParallelText:
    """Read one file pair, counting the pairs dropped for an empty side in `notes`."""
    origin = f"{name} {source}-{target} {role}"
    pairs, dropped = read_parallel(*files, origin, options["drop_empty"])
    notes["dropped_empty"][origin] = dropped
    return pairs


def _split(
    pairs: ParallelText, prefix: str, seed: int, val_fraction: float, test_fraction: float
) -> tuple[ParallelText, ParallelText, ParallelText]:
    """A seeded train/val/test split of a corpus that has none, each part in file order."""
    total = len(pairs)
    num_val, num_test = round(val_fraction * total), round(test_fraction * total)
    if min(num_val, num_test, total - num_val - num_test) < 1:
        raise ValueError(
            f"{pairs.origin}: {total} pairs are too few to split into train, val "
            f"({val_fraction}) and test ({test_fraction}) with at least one pair each."
        )
    order = np.random.default_rng(seed).permutation(total)
    parts = np.split(order, [total - num_val - num_test, total - num_test])
    return tuple(
        dataclasses.replace(pairs.subset(np.sort(part)), origin=f"{prefix} {role}")
        for part, role in zip(parts, ("train", "val", "test"), strict=True)
    )


def _cap(pairs: ParallelText, max_pairs: int) -> ParallelText:
    if len(pairs) <= max_pairs:
        return pairs
    return subsample_pairs(pairs, count=max_pairs, seed=TEST_CAP_SEED)


TRANSLATION_CORPORA: dict[str, Corpus] = {
    "mafand": Corpus(
        folder="mafand",
        locate=locate_mafand,
        source=(
            "MAFAND-MT (https://github.com/masakhane-io/lafand-mt, data/text_files; "
            "CC BY-NC 4.0, non-commercial)"
        ),
        options=COMMON_OPTIONS,
    ),
    "tatoeba": Corpus(
        folder="tatoeba/v1",
        locate=locate_tatoeba,
        source=(
            "the LASER Tatoeba test sets (https://github.com/facebookresearch/LASER, "
            "data/tatoeba/v1; CC BY 2.0 FR)"
        ),
        options={**COMMON_OPTIONS, "val_fraction": 0.15, "test_fraction": 0.15},
    ),
    "flores200": Corpus(
        folder="flores200/devtest",
        locate=locate_flores200,
        source=(
            "FLORES-200 (https://github.com/facebookresearch/flores/tree/main/flores200, the "
            "devtest/ folder of flores200_dataset.tar.gz; CC BY-SA 4.0)"
        ),
    ),
    "tico19": Corpus(
        folder="tico19",
        locate=locate_tico19,
        source="TICO-19 (https://tico-19.github.io, tico19-testset.zip, test/; CC0)",
    ),
}
