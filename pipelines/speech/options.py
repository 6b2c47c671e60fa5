"""Checks for `data.options.*` values shared by the audio sources, each naming the bad option."""

from __future__ import annotations

from typing import Any


def check_fraction(option: str, value: Any) -> None:
    """A number strictly between 0 and 1 (a share of the clips)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ValueError(f"data.options.{option} must be in (0, 1), got {value!r}.")


def check_positive(option: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"data.options.{option} must be a positive number, got {value!r}.")


def check_names(option: str, value: Any, what: str) -> None:
    """A list of distinct strings, e.g. speaker names (`what` says what they name)."""
    if isinstance(value, str) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"data.options.{option} must be a list of {what}, got {value!r}.")
    if len(set(value)) != len(value):
        raise ValueError(f"data.options.{option} lists a name twice: {list(value)}.")


def check_integers_in(option: str, value: Any, low: int, high: int) -> None:
    """A non-empty list of distinct integers in [low, high]."""
    if (
        isinstance(value, (str, int))
        or not value
        or not all(isinstance(item, int) and not isinstance(item, bool) for item in value)
        or not all(low <= item <= high for item in value)
        or len(set(value)) != len(value)
    ):
        raise ValueError(
            f"data.options.{option} must be a non-empty list of distinct integers in "
            f"[{low}, {high}], got {value!r}."
        )
