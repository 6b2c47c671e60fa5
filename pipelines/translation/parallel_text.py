"""Aligned sentence pairs: reading them from a pair of line-aligned files, and subsampling them.

Every corpus here stores one sentence per line, the two languages in two files whose line i is
each other's translation. A misaligned pair of files silently turns training into noise, so the
reader checks what it can before any training: equal line counts, valid UTF-8, no empty line
(an empty source or reference would be a pair with nothing to learn or to score).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# How many empty lines an error message lists before it only counts the rest.
LISTED_EMPTY_LINES = 5


@dataclass(frozen=True)
class ParallelText:
    """Aligned sentence pairs from one corpus split."""

    sources: list[str]
    targets: list[str]
    origin: str  # e.g. "mafand eng-hau test", used in reports

    def __post_init__(self) -> None:
        if len(self.sources) != len(self.targets):
            raise ValueError(
                f"{self.origin}: {len(self.sources)} sources but {len(self.targets)} targets."
            )

    def __len__(self) -> int:
        return len(self.sources)

    def subset(self, indices: Sequence[int] | np.ndarray) -> ParallelText:
        """The pairs at `indices`, in that order, with the same origin."""
        indices = [int(index) for index in np.asarray(indices, dtype=np.int64).reshape(-1)]
        return ParallelText(
            [self.sources[index] for index in indices],
            [self.targets[index] for index in indices],
            self.origin,
        )


def read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file, without their line endings and nothing else stripped.

    Splits on "\\n" only (a "\\r" before it is part of the ending): `str.splitlines` would also
    split on the Unicode separators (U+2028, U+0085) that occur inside real sentences and would
    break the alignment. A byte-order mark, which some editors write, is not part of line 1.
    """
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ValueError(
            f"{path} is not valid UTF-8: line {line} has byte(s) {data[error.start : error.end]!r} "
            f"({error.reason}); re-encode the file as UTF-8."
        ) from error
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_parallel(
    source_path: Path, target_path: Path, origin: str, drop_empty: bool
) -> tuple[ParallelText, int]:
    """Read two line-aligned files as sentence pairs; return them and how many pairs were dropped.

    Args:
        source_path: one source sentence per line.
        target_path: its translations, line for line.
        origin: names the pairs in reports, e.g. "mafand eng-hau train".
        drop_empty: drop (and count) pairs with an empty or blank side instead of raising.

    Raises:
        ValueError: the files differ in line count, are empty, are not UTF-8, or (without
            `drop_empty`) have an empty line.
    """
    sources, targets = read_lines(source_path), read_lines(target_path)
    if len(sources) != len(targets):
        raise ValueError(
            f"{origin}: the files are not aligned: {source_path} has {len(sources)} lines but "
            f"{target_path} has {len(targets)}; line i of one must translate line i of the other "
            "(a blank line at the end counts as a line)."
        )
    if not sources:
        raise ValueError(f"{origin}: {source_path} and {target_path} hold no lines.")
    empty = [
        index
        for index, (source, target) in enumerate(zip(sources, targets, strict=True))
        if not source.strip() or not target.strip()
    ]
    if empty and not drop_empty:
        raise ValueError(_empty_lines_message(origin, source_path, target_path, sources, empty))
    keep = sorted(set(range(len(sources))) - set(empty))
    if not keep:
        raise ValueError(f"{origin}: every pair in {source_path} / {target_path} is empty.")
    return ParallelText(sources, targets, origin).subset(keep), len(empty)


def _empty_lines_message(
    origin: str, source_path: Path, target_path: Path, sources: list[str], empty: list[int]
) -> str:
    listed = [
        f"{source_path if not sources[index].strip() else target_path} line {index + 1}"
        for index in empty[:LISTED_EMPTY_LINES]
    ]
    more = f" and {len(empty) - len(listed)} more" if len(empty) > len(listed) else ""
    return (
        f"{origin}: {len(empty)} pair(s) have an empty side: {'; '.join(listed)}{more}. Fix the "
        "files, or set data.options.drop_empty=true to drop those pairs (the data summary counts "
        "them)."
    )


def subsample_pairs(
    parallel: ParallelText,
    *,
    count: int | None = None,
    fraction: float | None = None,
    seed: int = 0,
) -> ParallelText:
    """A seeded subset of the pairs for low-data runs; the same seed always picks the same pairs.

    The pairs are shuffled once with `seed` and the first `count` kept (in their original
    order), so with one seed a smaller subset is contained in a larger one and a learning curve
    only ever adds data.

    Args:
        parallel: the pairs to subsample, usually the training split.
        count: keep this many pairs (1 to len(parallel)).
        fraction: keep this share of the pairs, in (0, 1], rounded, at least one.
        seed: seeds the shuffle.

    Returns:
        The subset, its origin extended with the selection; `parallel` itself when neither
        count nor fraction is set.
    """
    if count is not None and fraction is not None:
        raise ValueError(
            f"subsample_pairs: count={count} and fraction={fraction} are both set; set one of "
            "them (or neither, to keep every pair)."
        )
    total = len(parallel)
    if count is not None and (
        isinstance(count, bool) or not isinstance(count, (int, np.integer)) or not 0 < count
    ):
        raise ValueError(f"subsample_pairs: count must be an integer >= 1, got {count!r}.")
    if count is not None and count > total:
        raise ValueError(
            f"subsample_pairs: count={count} is more than the {total} pairs of "
            f"{parallel.origin}; use count <= {total}."
        )
    if fraction is not None and (
        isinstance(fraction, bool)
        or not isinstance(fraction, (int, float))
        or not 0 < fraction <= 1
    ):
        raise ValueError(f"subsample_pairs: fraction must be in (0, 1], got {fraction!r}.")
    if count is None and fraction is None:
        return parallel
    keep = int(count) if count is not None else max(1, round(fraction * total))
    chosen = np.sort(np.random.default_rng(seed).permutation(total)[:keep])
    subset = parallel.subset(chosen)
    return dataclasses.replace(
        subset, origin=f"{parallel.origin}, {keep} of {total} pairs (seed {seed})"
    )
