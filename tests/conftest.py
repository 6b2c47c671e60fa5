"""Fixtures shared across test folders."""

import pytest
import torch


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
