"""Readers for the clinical text classification datasets, each returning seeded train/val/test.

Each dataset registers itself in the suite's dataset registry (`shared.datasets`) under its
`data.name`, with a dataclass of its options. `radlabels` ships inside a pip package, so the
suite runs offline with no data directory; the others are read from `data.data_dir` (CI:
`../shared/data`) and are never copied into the repository. Every reader checks its files and
says which file and column is wrong.

The same rules apply to every dataset so results stay comparable and honest:
- texts are stripped of surrounding whitespace; empty texts are dropped (an empty radlabels
  report is an error: the package ships a text for every labelled report);
- an exact duplicate text is kept once, and a text filed under two different labels is dropped
  (otherwise one copy can land in train and the other in test, with contradictory labels);
- no dataset here has an official train/val/test split, so each is split 70/15/15 with `seed`:
  stratified by class for multiclass, a seeded random split for multilabel radlabels.
Each dataset's card in `data_cards/` gives the resulting counts and label set.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shared.datasets import checked_options, get_dataset, register_dataset

logger = logging.getLogger(__name__)

PIPELINE = "clinical_text"
# `facts` of each registered dataset: its files, relative to data.data_dir (none if packaged).

VAL_FRACTION = 0.15
TEST_FRACTION = 0.15
RADLABELS_POSITIVE = "definitely present"
RADLABELS_VALUES = frozenset({RADLABELS_POSITIVE, "definitely absent", "uncertain"})
# MTSamples files each note under its clinical specialty and again under a document or procedure
# type. These categories are those types (or catch-alls), not specialties: "Surgery" re-lists the
# operative notes of every surgical specialty (1039 of its 1088 distinct notes are also filed
# under another specialty) and "Radiology" the imaging reports (262 of 273). Keeping them would
# make most notes carry two correct labels, so they never enter the label set.
MTSAMPLES_NOT_SPECIALTIES = frozenset(
    {
        "Consult - History and Phy.",
        "SOAP / Chart / Progress Notes",
        "Discharge Summary",
        "Office Notes",
        "Letters",
        "IME-QME-Work Comp etc.",
        "Emergency Room Reports",
        "Surgery",
        "Radiology",
    }
)


@dataclass(frozen=True)
class TextExamples:
    """Texts and their labels: (N,) int64 class ids, or (N, C) int64 0/1 for multilabel."""

    texts: list[str]
    labels: np.ndarray

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise ValueError(f"{len(self.texts)} texts but {len(self.labels)} labels.")

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: np.ndarray) -> TextExamples:
        return TextExamples([self.texts[i] for i in indices], self.labels[indices])


@dataclass(frozen=True)
class TextClassificationSplits:
    """A dataset split for training, model selection and the final test."""

    train: TextExamples
    val: TextExamples
    test: TextExamples
    label_names: list[str]
    multilabel: bool


@dataclass
class RadlabelsOptions:
    min_positives: int = 100  # keep findings with at least this many positive reports


@dataclass
class MTSamplesOptions:
    top_k: int = 5  # keep the k specialties with the most notes


def load_clinical_dataset(
    name: str, data_dir: str | Path | None, seed: int = 0, **options: Any
) -> TextClassificationSplits:
    """Read dataset `name` and split it 70/15/15 with `seed` (same seed, same split).

    Args:
        name: a registered clinical text dataset (`data.name`).
        data_dir: folder holding `clinical_text/` (`data.data_dir`); ignored by `radlabels`.
        seed: seeds the split.
        options: dataset options (`data.options`), checked against the dataset's options class.
    """
    dataset = get_dataset(name, PIPELINE)
    settings = checked_options(dataset, options)
    paths = [_require_file(data_dir, relative, name, dataset.source) for relative in dataset.facts]
    return dataset.loader(paths, seed, **settings)


def _require_file(data_dir: str | Path | None, relative: str, name: str, source: str) -> Path:
    help_text = (
        f"Get it from {source}, or point data.data_dir=... at a folder holding {relative} "
        "(CI uses ../shared/data)."
    )
    if data_dir is None:
        raise FileNotFoundError(
            f"data.name={name!r} reads <data.data_dir>/{relative}, but data.data_dir is not set. "
            + help_text
        )
    path = Path(data_dir) / relative
    if not path.is_file():
        raise FileNotFoundError(f"data.name={name!r}: {path} does not exist. " + help_text)
    return path


def radlabels_samples_dir() -> Path:
    """The `samples/` folder of the installed radlabels package, found without importing it.

    Importing radlabels would pull in RadGraph and other dependencies the suite does not install.
    """
    spec = importlib.util.find_spec("radlabels")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "data.name='radlabels' needs the radlabels package: pip install radlabels --no-deps."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "samples"


def read_radlabels(
    samples_dir: Path, min_positives: int
) -> tuple[list[str], np.ndarray, list[str]]:
    """Read radlabels reports and their multilabel targets from `samples_dir`.

    A finding is positive only when labelled "definitely present"; absent, uncertain or not
    mentioned count as 0. Findings with fewer than `min_positives` positive reports are dropped;
    reports left with no positive finding are kept as all-zero rows.

    Returns:
        (texts, labels of shape (N, C), finding names), reports in id order.
    """
    if isinstance(min_positives, bool) or not isinstance(min_positives, int) or min_positives < 1:
        raise ValueError(
            f"data.options.min_positives must be an integer >= 1, got {min_positives!r}."
        )
    labels_path = samples_dir / "synthetic_labels.json"
    if not labels_path.is_file():
        raise FileNotFoundError(f"{labels_path} does not exist; reinstall radlabels (--no-deps).")
    try:
        report_findings = json.loads(labels_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{labels_path} is not valid JSON: {error}.") from error
    if not isinstance(report_findings, dict) or not report_findings:
        raise ValueError(
            f"{labels_path} must be a non-empty object {{report_id: {{finding: ...}}}}."
        )
    report_ids = sorted(report_findings)
    positives: dict[str, set[str]] = {}
    for report_id in report_ids:
        findings = report_findings[report_id]
        if not isinstance(findings, dict):
            raise ValueError(f"{labels_path}: report {report_id!r} must map findings to labels.")
        for finding, value in findings.items():
            if value not in RADLABELS_VALUES:
                raise ValueError(
                    f"{labels_path}: report {report_id!r}, finding {finding!r} has label "
                    f"{value!r}; expected one of {sorted(RADLABELS_VALUES)}."
                )
            if value == RADLABELS_POSITIVE:
                positives.setdefault(finding, set()).add(report_id)
    kept = sorted(finding for finding, ids in positives.items() if len(ids) >= min_positives)
    if not kept:
        most = max((len(ids) for ids in positives.values()), default=0)
        raise ValueError(
            f"data.options.min_positives={min_positives}: no finding in {labels_path} has that "
            f"many positive reports (the most is {most}); use a smaller value."
        )
    texts = [_read_report(samples_dir / "synthetic_reports" / f"{rid}.txt") for rid in report_ids]
    labels = np.array(
        [[int(rid in positives[finding]) for finding in kept] for rid in report_ids],
        dtype=np.int64,
    )
    return texts, labels, kept


def _read_report(path: Path) -> str:
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: every labelled report needs its text.")
    text = path.read_text(encoding="utf-8").strip()
    if not text:
        raise ValueError(f"{path} is empty: every labelled report needs its text.")
    return text


def _load_radlabels(_paths: list[Path], seed: int, min_positives: int) -> TextClassificationSplits:
    """Read the packaged reports and split them 70/15/15 at random with `seed`.

    Not stratified: every kept finding has >= min_positives positives, enough to reach each split.
    """
    texts, labels, names = read_radlabels(radlabels_samples_dir(), min_positives)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(texts))
    num_val, num_test = round(VAL_FRACTION * len(texts)), round(TEST_FRACTION * len(texts))
    parts = np.split(order, [len(texts) - num_val - num_test, len(texts) - num_test])
    train, val, test = (_take(texts, labels, np.sort(part)) for part in parts)
    return TextClassificationSplits(train, val, test, names, multilabel=True)


def read_mtsamples(path: Path) -> tuple[list[str], list[str]]:
    """Every MTSamples note with a transcription, and the specialty it is filed under."""
    frame = _read_csv(path, ["medical_specialty", "transcription"])
    specialty = frame["medical_specialty"].str.strip()
    text = frame["transcription"].str.strip()
    has_text = text != ""
    logger.info("%s: dropped %d notes with an empty transcription", path, (~has_text).sum())
    return text[has_text].tolist(), specialty[has_text].tolist()


def _load_mtsamples(paths: list[Path], seed: int, top_k: int) -> TextClassificationSplits:
    (path,) = paths
    texts, specialties = read_mtsamples(path)
    counts = pd.Series(
        [name for name in specialties if name not in MTSAMPLES_NOT_SPECIALTIES]
    ).value_counts()
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 < top_k <= len(ranked):
        raise ValueError(
            f"data.options.top_k must be an integer in [2, {len(ranked)}] (the specialties in "
            f"{path}), got {top_k!r}."
        )
    label_names = sorted(name for name, _ in ranked[:top_k])
    keep = [index for index, name in enumerate(specialties) if name in label_names]
    return split_multiclass(
        [texts[i] for i in keep], [specialties[i] for i in keep], label_names, path, seed
    )


def read_symptom2disease(path: Path) -> tuple[list[str], list[str]]:
    """Every Symptom2Disease text and its disease, the labels checked to be non-empty."""
    frame = _read_csv(path, ["label", "text"])
    labels = frame["label"].str.strip()
    _check_labels(labels, sorted(set(labels) - {""}), path, "label")
    return frame["text"].str.strip().tolist(), labels.tolist()


def _load_symptom2disease(paths: list[Path], seed: int) -> TextClassificationSplits:
    (path,) = paths
    texts, labels = read_symptom2disease(path)
    return split_multiclass(texts, labels, sorted(set(labels), key=str.lower), path, seed)


def read_medical_abstracts(
    abstracts_path: Path, names_path: Path
) -> tuple[list[str], list[str], list[str]]:
    """Every abstract and its condition's name, and the condition names in id order."""
    names = _read_csv(names_path, ["condition_label", "condition_name"])
    codes = names["condition_label"].str.strip()
    if codes.duplicated().any() or (codes == "").any():
        raise ValueError(f"{names_path}: column condition_label must hold unique, non-empty ids.")
    code_to_name = dict(zip(codes, names["condition_name"].str.strip(), strict=True))
    frame = _read_csv(abstracts_path, ["condition_label", "medical_abstract"])
    _check_labels(
        frame["condition_label"].str.strip(),
        list(code_to_name),
        abstracts_path,
        "condition_label",
        names_path,
    )
    labels = frame["condition_label"].str.strip().map(code_to_name).tolist()
    texts = frame["medical_abstract"].str.strip().tolist()
    return texts, labels, list(code_to_name.values())


def _load_medical_abstracts(paths: list[Path], seed: int) -> TextClassificationSplits:
    abstracts_path, names_path = paths
    texts, labels, label_names = read_medical_abstracts(abstracts_path, names_path)
    return split_multiclass(texts, labels, label_names, abstracts_path, seed)


def _read_csv(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    """Read `path` as text columns (empty cells as ""), checking that `columns` are present."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError as error:
        raise ValueError(
            f"{path} is empty; expected a CSV with columns {list(columns)}."
        ) from error
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} cannot be parsed as CSV: {error}") from error
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(
            f"{path} has no column {', '.join(missing)}; expected columns {list(columns)}, "
            f"found {list(frame.columns)}."
        )
    if frame.empty:
        raise ValueError(f"{path} has a header but no rows.")
    return frame


def _check_labels(
    labels: pd.Series,
    label_names: Sequence[str],
    path: Path,
    column: str,
    names_path: Path | None = None,
) -> None:
    outside = sorted(set(labels) - set(label_names))
    if outside:
        allowed = f"the ids in {names_path}" if names_path else "a non-empty label"
        raise ValueError(
            f"{path}: column {column} holds {outside[:5]}, outside the label list; "
            f"expected {allowed}: {list(label_names)}."
        )


def split_multiclass(
    texts: list[str], labels: list[str], label_names: list[str], path: Path, seed: int
) -> TextClassificationSplits:
    """Deduplicate, then split each class 70/15/15 with a seeded shuffle."""
    texts, labels = _drop_empty_and_duplicates(texts, labels, path)
    class_ids = np.array([label_names.index(label) for label in labels], dtype=np.int64)
    rng = np.random.default_rng(seed)
    parts: tuple[list[np.ndarray], ...] = ([], [], [])
    for class_id, name in enumerate(label_names):
        members = rng.permutation(np.flatnonzero(class_ids == class_id))
        if members.size < 3:
            raise ValueError(
                f"{path}: class {name!r} has {members.size} usable example(s); at least 3 are "
                "needed to put one in each of train, val and test."
            )
        num_val = max(1, round(VAL_FRACTION * members.size))
        num_test = max(1, round(TEST_FRACTION * members.size))
        boundaries = [members.size - num_val - num_test, members.size - num_test]
        for part, chunk in zip(parts, np.split(members, boundaries), strict=True):
            part.append(chunk)
    train, val, test = (_take(texts, class_ids, np.sort(np.concatenate(p))) for p in parts)
    return TextClassificationSplits(train, val, test, label_names, multilabel=False)


def _drop_empty_and_duplicates(
    texts: list[str], labels: list[str], path: Path
) -> tuple[list[str], list[str]]:
    """Drop empty texts, repeats of a text, and every copy of a text filed under two labels."""
    labels_of_text: dict[str, set[str]] = {}
    for text, label in zip(texts, labels, strict=True):
        labels_of_text.setdefault(text, set()).add(label)
    conflicting = {text for text, found in labels_of_text.items() if len(found) > 1}
    # Repeats of a text share its label, so keeping one entry per text keeps the first occurrence.
    kept = {text: label for text, label in zip(texts, labels, strict=True) if text}
    for text in conflicting:
        del kept[text]
    empty_rows = texts.count("")
    conflicting_rows = sum(text in conflicting for text in texts)
    logger.info(
        "%s: kept %d of %d texts; dropped %d empty, %d repeats and %d rows of %d texts filed "
        "under several labels",
        path,
        len(kept),
        len(texts),
        empty_rows,
        len(texts) - len(kept) - empty_rows - conflicting_rows,
        conflicting_rows,
        len(conflicting),
    )
    return list(kept), list(kept.values())


def _take(texts: list[str], labels: np.ndarray, indices: np.ndarray) -> TextExamples:
    return TextExamples([texts[i] for i in indices], labels[indices])


register_dataset(
    "radlabels",
    _load_radlabels,
    pipeline=PIPELINE,
    options=RadlabelsOptions,
    source="the radlabels pip package (pip install radlabels --no-deps)",
    facts=(),
)
register_dataset(
    "mtsamples",
    _load_mtsamples,
    pipeline=PIPELINE,
    options=MTSamplesOptions,
    source="MTSamples (mtsamples.com; CSV on Kaggle as tboyle10/medicaltranscriptions, CC0)",
    facts=("clinical_text/mtsamples.csv",),
)
register_dataset(
    "symptom2disease",
    _load_symptom2disease,
    pipeline=PIPELINE,
    source="Kaggle dataset niyarrbarman/symptom2disease (Symptom2Disease.csv)",
    facts=("clinical_text/Symptom2Disease.csv",),
)
register_dataset(
    "medical_abstracts",
    _load_medical_abstracts,
    pipeline=PIPELINE,
    source="github.com/sebischair/Medical-Abstracts-TC-Corpus (CC BY-SA 3.0)",
    facts=(
        "clinical_text/medical_abstracts_tc/medical_tc_test.csv",
        "clinical_text/medical_abstracts_tc/medical_tc_labels.csv",
    ),
)

# The same sources relabelled by organ system, for cross-domain tests; they register themselves.
from pipelines.clinical_text import organ_systems  # noqa: E402, F401
