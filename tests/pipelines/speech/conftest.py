"""Helpers for the speech tests: small wav files written with soundfile."""

from pathlib import Path

import numpy as np
import pytest
import soundfile


def write_wav(folder: Path, name: str, seconds: float = 0.5, rate: int = 8000, channels: int = 1):
    """Write `folder/name`: quiet noise of `seconds` at `rate`, seeded by the name."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(name))
    shape = (round(seconds * rate), channels) if channels > 1 else (round(seconds * rate),)
    soundfile.write(folder / name, (0.1 * rng.standard_normal(shape)).astype(np.float32), rate)
    return folder / name


@pytest.fixture
def wav_writer():
    """`write_wav(folder, name, seconds=0.5, rate=8000, channels=1)` for the test to call."""
    return write_wav
