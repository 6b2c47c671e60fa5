"""Where the suite keeps what it builds once and reuses: converted models, synthetic speech.

`$PEFTSUITE_CACHE_DIR` if set, else `$XDG_CACHE_HOME/peftsuite`, else `~/.cache/peftsuite`. A run
checks that it can write there before it loads anything (`peftsuite.checks`).
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_VARIABLE = "PEFTSUITE_CACHE_DIR"


def cache_root() -> Path:
    configured = os.environ.get(CACHE_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "peftsuite"
