"""Training-split subsampling for low-data experiments, shared by every domain.

PEFT methods are most often compared where labelled data is scarce, so each pipeline trains on a
fraction of its training split (`data.fraction`) or on k examples per class (`data.k_shot`).
Text, images and audio all subsample through this one function so that "10 % of the data" or
"8-shot" means the same thing everywhere: stratified by class, seeded, and never silently leaving
a class without examples (a class with no training example makes its AUROC meaningless and its
head untrained, which would quietly distort a comparison).

Labels are a 1-D array of class ids (multiclass) or a 2-D 0/1 array (multilabel, one column per
label). Only the indices are returned; each pipeline indexes its own examples with them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FRACTION_FIELD = "data.fraction"
K_SHOT_FIELD = "data.k_shot"


class EmptyClassError(ValueError):
    """A class (or label) has no example (or no positive) in the subsampled training split."""


def subsample_indices(
    labels: np.ndarray,
    *,
    fraction: float | None = None,
    k_shot: int | None = None,
    seed: int = 0,
    label_names: Sequence[str] | None = None,
) -> np.ndarray:
    """Pick the training examples for a low-data run; the same seed always gives the same indices.

    Args:
        labels: (N,) integer class ids, or (N, C) 0/1 multilabel targets.
        fraction: keep this share of the examples, in (0, 1]. Multiclass: per class, rounded, at
            least one example of every class present. Multilabel: a seeded random subset.
        k_shot: multiclass: exactly k examples of every class. Multilabel: a greedy seeded
            selection, rarest label first, until every label has at least k positives.
        seed: seeds the selection.
        label_names: names used in error messages (class id i is `label_names[i]`); for
            multiclass, also declares the classes that must be present (ids 0..len-1).

    Returns:
        Sorted int64 indices into `labels`; all indices when neither fraction nor k_shot is set.

    Raises:
        ValueError: invalid fraction / k_shot / labels, or a class with fewer than k examples.
        EmptyClassError: a class (label) would have no example (positive) after subsampling.
    """
    labels = np.asarray(labels)
    _check_options(fraction, k_shot)
    names = _label_names(labels, label_names)
    if fraction is None and k_shot is None:
        return np.arange(len(labels), dtype=np.int64)
    rng = np.random.default_rng(seed)
    if labels.ndim == 1:
        if fraction is not None:
            chosen = _multiclass_fraction(labels, fraction, len(names), rng)
        else:
            chosen = _multiclass_k_shot(labels, k_shot, names, rng)
        counts = np.bincount(labels[chosen], minlength=len(names))
    else:
        if fraction is not None:
            chosen = _multilabel_fraction(labels, fraction, rng)
        else:
            chosen = _multilabel_k_shot(labels, k_shot, names, rng)
        counts = labels[chosen].sum(axis=0)
    field, value = (FRACTION_FIELD, fraction) if fraction is not None else (K_SHOT_FIELD, k_shot)
    _require_every_class(counts, labels, names, field, value)
    return np.sort(chosen).astype(np.int64)


def _check_options(fraction: float | None, k_shot: int | None) -> None:
    if fraction is not None and k_shot is not None:
        raise ValueError(
            f"{FRACTION_FIELD}={fraction} and {K_SHOT_FIELD}={k_shot} are both set; "
            "set one of them (or neither, to train on the whole training split)."
        )
    if fraction is not None and (
        isinstance(fraction, bool)
        or not isinstance(fraction, (int, float))
        or not 0 < fraction <= 1
    ):
        raise ValueError(f"{FRACTION_FIELD} must be a number in (0, 1], got {fraction!r}.")
    if k_shot is not None and (
        isinstance(k_shot, bool) or not isinstance(k_shot, (int, np.integer)) or k_shot < 1
    ):
        raise ValueError(f"{K_SHOT_FIELD} must be an integer >= 1, got {k_shot!r}.")


def _label_names(labels: np.ndarray, label_names: Sequence[str] | None) -> list[str]:
    """Validate `labels` and return one display name per class (or label column)."""
    if labels.ndim not in (1, 2) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            "labels must be a 1-D integer array of class ids or a 2-D 0/1 integer array, "
            f"got shape {labels.shape} and dtype {labels.dtype}."
        )
    if len(labels) == 0:
        raise ValueError("labels is empty: there is no training example to subsample.")
    if labels.ndim == 2:
        if not np.isin(labels, (0, 1)).all():
            raise ValueError("multilabel labels (2-D) must contain only 0 and 1.")
        num_classes = labels.shape[1]
    else:
        if labels.size and labels.min() < 0:
            raise ValueError(f"class ids must be >= 0, got {labels.min()}.")
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if label_names is None:
        return [f"class {i}" for i in range(num_classes)]
    if len(label_names) < num_classes or (labels.ndim == 2 and len(label_names) != num_classes):
        raise ValueError(
            f"label_names has {len(label_names)} names but labels need {num_classes} "
            f"(one per class id / label column)."
        )
    return list(label_names)


def _multiclass_fraction(
    labels: np.ndarray, fraction: float, num_classes: int, rng: np.random.Generator
) -> np.ndarray:
    chosen = []
    for class_id in range(num_classes):
        members = np.flatnonzero(labels == class_id)
        if members.size:
            keep = max(1, round(fraction * members.size))
            chosen.append(rng.choice(members, size=keep, replace=False))
    return np.concatenate(chosen) if chosen else np.empty(0, dtype=np.int64)


def _multiclass_k_shot(
    labels: np.ndarray, k_shot: int, names: list[str], rng: np.random.Generator
) -> np.ndarray:
    chosen = []
    for class_id, name in enumerate(names):
        members = np.flatnonzero(labels == class_id)
        if 0 < members.size < k_shot:
            raise ValueError(
                f"{K_SHOT_FIELD}={k_shot}: class {name!r} has only {members.size} training "
                f"example(s); use {K_SHOT_FIELD} <= {members.size} or {FRACTION_FIELD} instead."
            )
        if members.size:
            chosen.append(rng.choice(members, size=k_shot, replace=False))
    return np.concatenate(chosen) if chosen else np.empty(0, dtype=np.int64)


def _multilabel_fraction(
    labels: np.ndarray, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    keep = max(1, round(fraction * len(labels)))
    return rng.choice(len(labels), size=keep, replace=False)


def _multilabel_k_shot(
    labels: np.ndarray, k_shot: int, names: list[str], rng: np.random.Generator
) -> np.ndarray:
    """Greedy: for each label, rarest first, add its positives in a seeded order until it has k.

    Rarest first because the examples picked for a rare label also count towards the common
    labels they carry, which keeps the subset small.
    """
    positives = labels.sum(axis=0)
    for column, name in enumerate(names):
        if 0 < positives[column] < k_shot:
            raise ValueError(
                f"{K_SHOT_FIELD}={k_shot}: label {name!r} has only {positives[column]} positive "
                f"training example(s); use {K_SHOT_FIELD} <= {positives[column]} or "
                f"{FRACTION_FIELD} instead."
            )
    order = rng.permutation(len(labels))
    selected = np.zeros(len(labels), dtype=bool)
    for column in np.argsort(positives, kind="stable"):
        missing = k_shot - labels[selected, column].sum()
        if missing <= 0:
            continue
        candidates = order[(labels[order, column] == 1) & ~selected[order]]
        selected[candidates[:missing]] = True
    return np.flatnonzero(selected)


def _require_every_class(
    counts: np.ndarray, labels: np.ndarray, names: list[str], field: str, value: object
) -> None:
    what = "positive" if labels.ndim == 2 else "example"
    for column, name in enumerate(names):
        if counts[column] > 0:
            continue
        in_split = labels[:, column].sum() if labels.ndim == 2 else (labels == column).sum()
        if in_split == 0:
            raise EmptyClassError(
                f"{field}={value}: class {name!r} has no {what} in the whole training split, so "
                "no value can fix it; check the dataset's split and label set."
            )
        raise EmptyClassError(
            f"{field}={value}: class {name!r} has no {what} after subsampling "
            f"({in_split} in the full training split); use a larger {field}."
        )


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of a seeded `fraction` of each class (rounded, at least one per class)."""
    rng = np.random.default_rng(seed)
    held_out = []
    for class_id in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == class_id))
        held_out.append(members[: max(1, round(fraction * members.size))])
    return np.sort(np.concatenate(held_out))
