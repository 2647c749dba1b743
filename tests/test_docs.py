"""The documentation's generated parts, checked without building it.

The build itself (``bash scripts/docs.sh``) runs ``scripts/check_docs.py`` on
its output; these tests catch the same gaps in the page generator in a second.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx")

ROOT = Path(__file__).resolve().parents[1]


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


docs_ext = _load("sk_ebm_docs", ROOT / "docs" / "_ext" / "sk_ebm_docs.py")
check_docs = _load("check_docs", ROOT / "scripts" / "check_docs.py")


def test_api_pages_list_every_name_in_every_public_all():
    generated = docs_ext.public_modules()
    for module, exported in check_docs.public_api().items():
        assert module in generated, f"{module} has __all__ but no API page"
        page = docs_ext.module_page(module, generated[module])
        for name in exported:
            assert f"\n   {name}\n" in page, f"{module}.{name} not on its page"


def test_modules_without_all_are_documented_only_on_purpose():
    extra = set(docs_ext.public_modules()) - set(check_docs.public_api())
    assert extra <= set(docs_ext.EXTRA_PUBLIC)


def test_markdown_results_become_list_tables():
    text = (
        "### digits\n\n| method | AUROC % |\n|---|---|\n| jem_pcd | 96.8 ± 0.6 |\n"
        "| lof |  |\n\ntarget `x` met\n\n### other\n\n| a |\n|---|\n| b |\n"
    )
    lines = docs_ext.markdown_section(text, "digits")
    assert lines[:3] == [".. list-table::", "   :header-rows: 1", ""]
    assert "   * - jem\\_pcd" in lines  # an underscore would be a reST link
    assert "     - \\ " in lines  # an empty cell stays a cell
    assert "target ``x`` met" in lines
    assert not any("other" in line for line in lines)
    with pytest.raises(ValueError, match="no section"):
        docs_ext.markdown_section(text, "missing")


def test_user_guide_tables_exist_in_the_results():
    for page in (ROOT / "docs" / "user_guide").glob("*.rst"):
        lines = page.read_text().splitlines()
        for i, line in enumerate(lines):
            if line.startswith(".. benchmark-table::"):
                path = (page.parent / line.split("::", 1)[1].strip()).resolve()
                following = lines[i + 1] if i + 1 < len(lines) else ""
                section = None
                if following.strip().startswith(":section:"):
                    section = following.split(":section:", 1)[1].strip()
                docs_ext.markdown_section(path.read_text(), section)
