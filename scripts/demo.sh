#!/usr/bin/env bash
# Set up (if needed) and run the demo: semi-supervised digits, JEM vs baselines.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
OMP_NUM_THREADS=1 .venv/bin/python examples/demo.py
