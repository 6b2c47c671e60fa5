"""Fixtures shared across test folders."""

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from real_data import require_real_data


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module's tiny models on one CPU thread, restoring the setting afterwards.

    For models this small, handing work between threads costs more than the work itself (two
    threads made a tiny BERT step ~100x slower on a loaded 2-core machine). Comparisons of
    outputs stay within one setting, so bit-exact checks are unaffected.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real-data folder ($PEFTSUITE_DATA_DIR or ../shared/data); skip if absent, fail in CI.

    Session-scoped so module-scoped fixtures that load a data set once can depend on it.
    """
    return require_real_data()


@pytest.fixture(scope="session")
def require_data() -> Callable[..., Path]:
    """`require_data("fsdd", "recordings")`: that path, or skip (fail in CI) when it is missing.

    For tests that need one data set rather than the folder: a developer may hold only some.
    """
    return require_real_data
