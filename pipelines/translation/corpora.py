"""Parallel corpora for the translation pipeline: train/val pairs and one or more test sets.

Each corpus registers itself in the suite's dataset registry (`shared.datasets`) under its
`data.name`, with a dataclass of its options. Two can be trained on: MAFAND-MT (news, 21 African
languages paired with English or French; its dev split is our val split) and Tatoeba (short
everyday sentences, 112 languages paired with English; it has no splits, so it is split 70/15/15
with `seed`). FLORES-200 devtest and TICO-19 hold a test set only and are added as out-of-domain
tests (`extra_tests` here, `data.cross_domain` in a config). Files are read from
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
from shared.datasets import (
    DatasetSpec,
    checked_options,
    dataset_names,
    get_dataset,
    register_dataset,
)

__all__ = [
    "ParallelText",
    "TranslationSplits",
    "language_name",
    "load_translation_data",
    "subsample_pairs",
]

# Test sets capped by data.options.max_test_pairs keep the same pairs whatever the run's seed, so
# scores of different seeds and methods are over the same sentences.
TEST_CAP_SEED = 0
PIPELINE = "translation"


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
class CorpusFiles:
    """Where a registered corpus lives and how to find a pair's files (its `facts`)."""

    folder: str  # under <data.data_dir>/translation/
    locate: Callable[[Path, str, str], PairFiles]


@dataclass
class CorpusOptions:
    """`data.options` of a trainable corpus."""

    source: str | None = None  # ISO 639-3 code translated from, e.g. "eng"
    target: str | None = None  # ISO 639-3 code translated into, e.g. "hau"
    train_pairs: int | None = None  # a seeded subset of this many training pairs (low data)
    prompt: str | None = None  # decoder-only prompt template; None takes the default
    max_test_pairs: int | None = None  # cap every test set to a fixed subset of this many
    drop_empty: bool = False  # drop pairs with an empty side instead of raising


@dataclass
class SplitCorpusOptions(CorpusOptions):
    """A corpus without official splits is split with the run's seed."""

    val_fraction: float = 0.15
    test_fraction: float = 0.15


def load_translation_data(
    name: str,
    data_dir: str | Path | None,
    *,
    seed: int = 0,
    extra_tests: Sequence[str] = (),
    **options: Any,
) -> TranslationSplits:
    """Read corpus `name` in the direction `source` -> `target` (options), with its test sets.

    Args:
        name: a trainable registered corpus (`data.name`): mafand or tatoeba.
        data_dir: folder holding `translation/` (`data.data_dir`).
        seed: seeds Tatoeba's split; MAFAND's splits and the capped test sets do not depend on it.
        extra_tests: test-only corpora to add after the corpus' own test set, e.g.
            [flores200, tico19] (a config names them under `data.cross_domain`).
        options: `data.options`, checked against the corpus' options class: `source` and
            `target` (ISO 639-3 codes), `max_test_pairs`, `drop_empty`, and for tatoeba
            `val_fraction` and `test_fraction`.
    """
    corpus = _trainable_corpus(name)
    options = checked_options(corpus, options) | {"extra_tests": extra_tests}
    source, target = options["source"], options["target"]
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


def _trainable_corpus(name: str) -> DatasetSpec:
    corpus = get_dataset(name, PIPELINE)
    if corpus.test_only:
        raise ValueError(
            f"data.name={name!r} holds a test set only; train on one of "
            f"{', '.join(dataset_names(PIPELINE, trainable=True))} and add it as an "
            f"out-of-domain test with data.cross_domain={{{name}: {{}}}}."
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
        if extra not in dataset_names(PIPELINE) or extra == name:
            raise ValueError(
                f"data.options.extra_tests names {extra!r}; valid names: "
                f"{', '.join(key for key in dataset_names(PIPELINE) if key != name)}."
            )
    if len(set(extra_tests)) != len(extra_tests):
        raise ValueError(f"data.options.extra_tests names a corpus twice: {list(extra_tests)}.")
    cap = options["max_test_pairs"]
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
        raise ValueError(f"data.options.max_test_pairs must be null or >= 1, got {cap!r}.")
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
    corpus = get_dataset(name, PIPELINE)
    relative = f"translation/{corpus.facts.folder}"
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
    return corpus.facts.locate(folder, source, target)


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


register_dataset(
    "mafand",
    load_translation_data,
    pipeline=PIPELINE,
    options=CorpusOptions,
    source=(
        "MAFAND-MT (https://github.com/masakhane-io/lafand-mt, data/text_files; "
        "CC BY-NC 4.0, non-commercial)"
    ),
    facts=CorpusFiles("mafand", locate_mafand),
)
register_dataset(
    "tatoeba",
    load_translation_data,
    pipeline=PIPELINE,
    options=SplitCorpusOptions,
    source=(
        "the LASER Tatoeba test sets (https://github.com/facebookresearch/LASER, "
        "data/tatoeba/v1; CC BY 2.0 FR)"
    ),
    facts=CorpusFiles("tatoeba/v1", locate_tatoeba),
)
register_dataset(
    "flores200",
    load_translation_data,
    pipeline=PIPELINE,
    source=(
        "FLORES-200 (https://github.com/facebookresearch/flores/tree/main/flores200, the "
        "devtest/ folder of flores200_dataset.tar.gz; CC BY-SA 4.0)"
    ),
    test_only=True,
    facts=CorpusFiles("flores200/devtest", locate_flores200),
)
register_dataset(
    "tico19",
    load_translation_data,
    pipeline=PIPELINE,
    source="TICO-19 (https://tico-19.github.io, tico19-testset.zip, test/; CC0)",
    test_only=True,
    facts=CorpusFiles("tico19", locate_tico19),
)
