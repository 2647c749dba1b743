"""Run every gallery example in a fresh interpreter and check its figures."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_runs_and_saves_png_figures(path, tmp_path):
    env = {
        **os.environ,
        "SK_EBM_FIGURE_DIR": str(tmp_path),
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",
        # The checkout under test, not whatever sk_ebm is installed.
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
        ),
    }
    result = subprocess.run(
        [sys.executable, str(path)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    figures = sorted(tmp_path.glob("*.png"))
    assert figures, f"{path.name} saved no PNG to SK_EBM_FIGURE_DIR"
    for figure in figures:
        assert figure.read_bytes()[:8] == PNG_SIGNATURE, figure.name
