"""The README's commands, links and demo block stay in step with the repository.

The demo's numbers vary between machines, so they are not compared; its models
and the table's header are.
"""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()

COMMANDS = """```bash
bash scripts/demo.sh   # set-up (venv + pinned install, first time only), then the demo
bash scripts/test.sh   # set-up (same), then the whole test suite
bash scripts/docs.sh   # set-up (same), then the documentation site, checked
```"""


def _github_anchor(heading):
    """The id GitHub gives a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(markdown):
    return {
        _github_anchor(line.lstrip("#"))
        for line in markdown.splitlines()
        if line.startswith("#")
    }


def test_the_three_commands_come_first():
    first_block = README.index("```")
    assert README[first_block:].startswith(COMMANDS)


def test_local_links_resolve():
    links = re.findall(r"\]\(([^)\s]+)\)", README)
    local = [link for link in links if not re.match(r"[a-z]+://", link)]
    assert local
    for link in local:
        path, _, fragment = link.partition("#")
        target = ROOT / path if path else ROOT / "README.md"
        assert target.exists(), f"README links to missing {path}"
        if fragment:
            assert target.suffix == ".md", link
            assert fragment in _anchors(target.read_text()), f"no #{fragment}"


@pytest.fixture(scope="module")
def demo():
    spec = importlib.util.spec_from_file_location("demo", ROOT / "examples" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_block_shows_the_demos_models_and_header(demo):
    section = README.split("## The demo's expected output", 1)[1]
    block = section.split("```", 2)[1]
    lines = block.strip("\n").splitlines()
    header = f"{'model':<36}{'accuracy':>10}{'ECE':>8}{'OOD AUROC':>11}{'seconds':>9}"
    assert header in lines
    start = lines.index(header) + 2  # the header, then its rule
    names = [name for name, *_ in demo.models()]
    rows = lines[start : start + len(names)]
    assert [row[:36].rstrip() for row in rows] == names
    for row in rows:
        assert re.fullmatch(r"\s+\d\.\d{3}\s+\d\.\d{3}\s+\d\.\d{3}\s+\d+\.\d", row[36:])
