import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["sk_ebm.metrics", "sk_ebm.datasets"])
def test_torch_free_modules_do_not_import_torch(module):
    # A fresh interpreter: this test process has torch loaded already.
    code = (
        f"import sys, {module}\n"
        f"assert 'torch' not in sys.modules, '{module} imported torch'\n"
        "from sk_ebm import JEMClassifier\n"
        "assert 'torch' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
