#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite, one torch thread.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
OMP_NUM_THREADS=1 .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
