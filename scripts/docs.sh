#!/usr/bin/env bash
# Set up (if needed) and build the documentation into docs/_build/html, warnings
# as errors, then check the result (scripts/check_docs.py: links, API coverage,
# gallery figures, README images, and the pages in headless Chromium when it is
# installed). Every build runs the gallery's examples afresh, so no figure is
# stale: 2 to 3 minutes on 2 cores, most of it the examples, then the check
# (about 25 s).
#   --no-gallery       text and API only, in seconds (no examples run, no check)
#   --require-browser  the check fails, instead of skipping, without Chromium
set -euo pipefail
cd "$(dirname "$0")/.."
gallery=1
check=()
for arg in "$@"; do
    case "$arg" in
        --no-gallery) gallery=0 ;;
        --require-browser) check+=(--require-browser) ;;
        *) echo "usage: bash scripts/docs.sh [--no-gallery] [--require-browser]" >&2; exit 2 ;;
    esac
done
bash scripts/setup_env.sh
# One OpenMP thread (two are sometimes 100x slower on 2 cores); the checkout's
# sk_ebm also in dask's worker processes.
export OMP_NUM_THREADS=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
rm -rf docs/_build docs/api docs/auto_examples docs/sg_execution_times.rst
options=()
if [ "$gallery" = 0 ]; then
    options=(-D plot_gallery=0)
fi
start=$SECONDS
.venv/bin/python -m sphinx -W --keep-going -q -b html "${options[@]}" docs docs/_build/html
echo "docs built in $((SECONDS - start)) s: docs/_build/html/index.html"
if [ "$gallery" = 1 ]; then
    .venv/bin/python scripts/check_docs.py "${check[@]}"
fi
