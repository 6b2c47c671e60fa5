"""Any folder of labelled wav files, laid out as `<path>/<class>/<clip>.wav`.

For users bringing their own recordings: class names are the sub-folder names (sorted), files of
any sample rate are resampled to 16 kHz, and a seeded, stratified test and validation split is
carved out (the seed moves clips between all three splits: there is no speaker information to
hold out by). Bad files are errors naming them, or skipped and reported under lenient mode.
See data_cards/wav_folder.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines.speech.audio_io import (
    AudioClassificationSplits,
    Clip,
    read_clips,
    require_some_clips,
)
from pipelines.speech.options import check_fraction, check_positive
from pipelines.speech.splits import split_with_test_mask, stratified_test_mask

UNKNOWN_SPEAKER = "unknown"


@dataclass
class WavFolderOptions:
    path: str | None = None  # <path>/<class>/*.wav
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    max_seconds: float = 2.5
    lenient: bool = False
    # Every clip is a test clip: a folder of a few clips per class (your own recordings, studio
    # prompts) as a cross-domain test set, never trained on.
    test_only: bool = False


def load_wav_folder(
    name: str,
    data_dir: str | Path | None,
    seed: int,
    path: str | Path | None,
    val_fraction: float,
    test_fraction: float,
    max_seconds: float,
    lenient: bool,
    test_only: bool,
) -> AudioClassificationSplits:
    """Clips of `<path>/<class>/*.wav` in seeded, stratified train/val/test splits, or all of
    them as the test split (`test_only`: train and val stay empty).

    `data_dir` is unused: the folder is `data.options.path`.
    """
    check_fraction("val_fraction", val_fraction)
    check_fraction("test_fraction", test_fraction)
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            f"data.options.val_fraction + test_fraction = {val_fraction + test_fraction} leaves "
            "nothing to train on; it must be below 1."
        )
    check_positive("max_seconds", max_seconds)
    root = _root(name, path)
    label_names = sorted(child.name for child in root.iterdir() if _is_class_folder(child))
    if not label_names:
        raise FileNotFoundError(
            f"data.options.path={str(root)!r} has no class sub-folders; expected "
            "<path>/<class>/<clip>.wav, one sub-folder per class."
        )
    clips = [
        Clip(file, label, UNKNOWN_SPEAKER)
        for label, class_name in enumerate(label_names)
        for file in _wav_files(root / class_name)
    ]
    examples, skipped = read_clips(clips, max_seconds, lenient)
    require_some_clips(name, root, examples, skipped)
    if test_only:
        nothing = examples.subset(np.arange(0))
        return AudioClassificationSplits(nothing, nothing, examples, label_names, skipped)
    _check_class_sizes(root, label_names, examples.labels, bool(skipped))
    test_mask = stratified_test_mask(examples.labels, test_fraction, seed)
    indices = split_with_test_mask(
        examples.labels,
        test_mask,
        val_fraction / (1 - test_fraction),  # a share of what the test split leaves
        seed,
        f"data.options.test_fraction={test_fraction}",
    )
    train, val, test = (examples.subset(part) for part in indices)
    return AudioClassificationSplits(train, val, test, label_names, skipped)


def _root(name: str, path: str | Path | None) -> Path:
    if path is None:
        raise FileNotFoundError(
            f"data.name={name!r} needs data.options.path=<folder> holding one sub-folder of "
            ".wav files per class."
        )
    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"data.options.path={str(path)!r} is not a folder.")
    return root


def _is_class_folder(path: Path) -> bool:
    return path.is_dir() and not path.name.startswith(".")


def _wav_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".wav")
    if not files:
        raise FileNotFoundError(
            f"class folder {folder} (under data.options.path) holds no .wav files; add clips "
            "or remove the folder."
        )
    return files


def _check_class_sizes(
    root: Path, label_names: list[str], labels: np.ndarray, some_skipped: bool
) -> None:
    """Every class needs a clip in each of train, val and test."""
    counts = np.bincount(labels, minlength=len(label_names))
    small = [
        f"{name} ({count})" for name, count in zip(label_names, counts, strict=True) if count < 3
    ]
    if small:
        after = " after skipping bad files" if some_skipped else ""
        raise ValueError(
            f"data.options.path={str(root)!r}: class folder(s) {', '.join(small)} hold fewer "
            f"than 3 readable clips{after}; each class needs one for train, val and test."
        )
