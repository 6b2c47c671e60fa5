"""One-line refusals for config values that have the right type but a wrong value."""

from __future__ import annotations

from typing import Any


def require(condition: bool, field: str, value: Any, expected: str) -> None:
    """Raise `ValueError("<field>=<value>: must be <expected>")` unless `condition` holds."""
    if not condition:
        raise ValueError(f"{field}={value!r}: must be {expected}")


def is_count(value: Any, minimum: int = 0) -> bool:
    """An integer (not a bool) of at least `minimum`."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum
