#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite on two worker processes
# (pytest-xdist), one torch thread each: the 2-core machines run it in about
# half the serial time. Pass -n 0 to run it serially.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
OMP_NUM_THREADS=1 .venv/bin/python -m pytest -q -p no:cacheprovider -n 2 "$@"
