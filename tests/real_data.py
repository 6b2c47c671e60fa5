"""Where the real data sets live for the tests that read them, and what happens when they don't.

The data is not redistributable, so it sits outside the repository: `$PEFTSUITE_DATA_DIR` if set,
else `../shared/data` next to the checkout (the same default as `configs/data/*.yaml`). A
developer without it gets skips; CI (`CI=true`) has it, so there a missing path fails the run
rather than quietly skipping the tests that were meant to prove the pipelines on real data.
"""

import os
from pathlib import Path

import pytest

DATA_DIR_VARIABLE = "PEFTSUITE_DATA_DIR"
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def real_data_dir() -> Path:
    """The real-data folder, whether or not it exists (safe at import or collection time)."""
    configured = os.environ.get(DATA_DIR_VARIABLE)
    return Path(configured) if configured else DEFAULT_DATA_DIR


def missing_data_fails() -> bool:
    """True in CI (`CI=true` in any case, or `CI=1`), where the data is expected to be present."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1"}


def require_real_data(*parts: str) -> Path:
    """The path `parts` below the real-data folder; skips the test (fails it in CI) if missing.

    Call it at test run time (in a test or fixture), never at import: a skip raised while
    collecting would hide the module, and a failure would stop the whole session.
    """
    __tracebackhide__ = True  # report the skip or failure at the test that needs the data
    path = real_data_dir().joinpath(*parts)
    if path.exists():
        return path
    message = f"real data {path} is missing (set {DATA_DIR_VARIABLE}; default ../shared/data)"
    if missing_data_fails():
        pytest.fail(f"{message}; CI={os.environ['CI']}, so missing data fails", pytrace=False)
    pytest.skip(message)
