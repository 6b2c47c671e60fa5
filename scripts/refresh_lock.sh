#!/usr/bin/env bash
# Regenerate requirements.lock, the pinned set that scripts/setup.sh (and so CI) installs, from
# pyproject.toml's dependencies plus the `dev` extra, with constraints.txt (the torch stack pins)
# applied. Never edit requirements.lock by hand; change pyproject.toml or constraints.txt and run:
#
#   bash scripts/refresh_lock.sh                       # re-resolve, keeping the current pins
#                                                      #   wherever they still satisfy the inputs
#   bash scripts/refresh_lock.sh --upgrade-package X   # move X (and what it needs) to its newest
#   bash scripts/refresh_lock.sh --upgrade             # move everything to the newest allowed
#
# Any arguments are passed on to pip-compile. The resolver is pip-tools' pip-compile, which runs
# pip itself, so it sees the same indexes and local wheels (pip's config: find-links, extra index
# URLs, the system constraint file) that `pip install` in setup.sh sees, and resolves the torch
# stack to the builds that lie on this machine's disk. Index locations are not written into the
# lock; they stay in pip's configuration.
#
# The lock holds for the interpreter that resolves it (python3, as in setup.sh: CPython 3.11 on
# Linux x86_64), because environment markers (e.g. torch's CUDA wheels) are evaluated for it.
# pip-tools is installed into a throwaway virtual environment, never into .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

PIP_VERSION=26.3
PIP_TOOLS_VERSION=7.6.2
tools=$(mktemp -d "${TMPDIR:-/tmp}/peftsuite-lock.XXXXXX")
trap 'rm -rf "$tools"' EXIT

python3 -m venv "$tools/venv"
"$tools/venv/bin/pip" install --quiet "pip==$PIP_VERSION"
"$tools/venv/bin/pip" install --quiet "pip-tools==$PIP_TOOLS_VERSION"

CUSTOM_COMPILE_COMMAND="bash scripts/refresh_lock.sh" "$tools/venv/bin/pip-compile" \
    --quiet \
    --extra dev \
    --constraint constraints.txt \
    --output-file requirements.lock \
    --allow-unsafe \
    --strip-extras \
    --no-emit-index-url \
    --no-emit-find-links \
    --no-emit-trusted-host \
    --newline lf \
    "$@" \
    pyproject.toml

# Say what the lock was resolved from, under pip-compile's own header (which names this script).
header_end=$(grep -n -m1 -v '^#' requirements.lock | cut -d: -f1)
{
    head -n "$((header_end - 1))" requirements.lock
    echo "# Inputs: pyproject.toml's dependencies plus its \`dev\` extra, with constraints.txt applied,"
    echo "# resolved by pip-tools $PIP_TOOLS_VERSION (pip $PIP_VERSION) through pip's own configuration (its local wheels and"
    echo "# indexes, as setup.sh's pip install sees them) for $(python3 -c 'import platform, sys; print(platform.python_implementation(), "%d.%d" % sys.version_info[:2], "on", platform.system(), platform.machine())')."
    echo "# scripts/setup.sh installs exactly this set. Do not edit by hand: change the inputs, rerun."
    echo "#"
    tail -n +"$header_end" requirements.lock
} > "$tools/lock" && cat "$tools/lock" > requirements.lock

echo "peftsuite: requirements.lock regenerated; commit it with the change that needed it" >&2
