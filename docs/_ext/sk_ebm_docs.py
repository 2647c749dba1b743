"""Sphinx helpers for sk_ebm's documentation.

- :func:`public_modules` and a ``config-inited`` hook write one API page per
  public module (``api/<module>.rst``), listing the module's ``__all__`` in an
  ``autosummary`` table, so a name added to ``__all__`` is documented without
  editing the docs. A public module is an importable ``sk_ebm`` module whose
  dotted name has no part starting with ``_`` and that defines ``__all__``.
- :func:`scrape_saved_figures` and :func:`reset_figure_dir` let sphinx-gallery
  show the PNG files that each example saves to ``$SK_EBM_FIGURE_DIR``, the
  same files as the README's images, instead of re-drawing open figures.
- The ``benchmark-table`` directive renders a section of a Markdown results
  file (``benchmarks/results/*.md``), so the user guide shows the committed
  tables, never a copy of them.
- :func:`skip_torch_module_members` keeps what networks inherit from
  ``torch.nn.Module`` off their API pages (the class template documents
  inherited members, for scikit-learn's ``get_params`` and the like).
"""

import importlib
import os
import pkgutil
import re
import shutil
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

PACKAGE = "sk_ebm"

#: Public names of modules that have no ``__all__`` yet, documented as if they
#: had one; a module's own ``__all__``, once it has one, takes precedence.
EXTRA_PUBLIC = {"sk_ebm.exceptions": ("DivergenceError",)}


# --------------------------------------------------------------------------------------
# API pages
# --------------------------------------------------------------------------------------


def public_modules(package=PACKAGE):
    """Map each public module's dotted name to its public names.

    Returns
    -------
    dict of str to list of str
        Module names in import order (the package first, then sorted), each
        with its ``__all__`` (or its :data:`EXTRA_PUBLIC` entry).
    """
    root = importlib.import_module(package)
    names = [package] + sorted(
        info.name
        for info in pkgutil.walk_packages(root.__path__, package + ".")
        if not any(part.startswith("_") for part in info.name.split("."))
    )
    modules = {}
    for name in names:
        module = importlib.import_module(name)
        exported = getattr(module, "__all__", EXTRA_PUBLIC.get(name))
        if exported is not None:
            modules[name] = list(exported)
    return modules


def _kind(obj):
    """The group ``obj`` is listed in on its module's page."""
    if isinstance(obj, type):
        return "class"
    if callable(obj):
        return "function"
    return "data"


def module_page(name, exported):
    """reST of the API page of module ``name`` listing ``exported``."""
    module = importlib.import_module(name)
    title = f":mod:`{name}`"
    lines = [
        f".. _api-{name}:",
        "",
        title,
        "=" * len(title),
        "",
        f".. automodule:: {name}",
        "   :no-members:",
        "",
        f".. currentmodule:: {name}",
        "",
    ]
    groups = {"class": [], "function": [], "data": []}
    for item in exported:
        groups[_kind(getattr(module, item))].append(item)
    headings = {"class": "Classes", "function": "Functions", "data": "Data"}
    for kind, items in groups.items():
        if not items:
            continue
        heading = headings[kind]
        lines += [heading, "-" * len(heading), ""]
        lines += [
            ".. autosummary::",
            "   :toctree: generated/",
            "   :nosignatures:",
            "",
        ]
        lines += [f"   {item}" for item in sorted(items, key=str.lower)]
        lines.append("")
    return "\n".join(lines)


def write_api_pages(app, config=None):
    """Write ``api/<module>.rst`` for each public module and ``api/modules.txt``.

    Files whose text did not change are left alone, so Sphinx does not re-read
    them; pages of modules that are gone are removed.
    """
    out = Path(app.srcdir) / "api"
    out.mkdir(exist_ok=True)
    modules = public_modules()
    wanted = set()
    for name, exported in modules.items():
        path = out / f"{name}.rst"
        wanted.add(path.name)
        _write_if_changed(path, module_page(name, exported))
    listing = "".join(f"{name}\n" for name in modules)
    _write_if_changed(out / "modules.txt", listing)
    for path in out.glob("*.rst"):
        if path.name not in wanted:
            path.unlink()


def _write_if_changed(path, text):
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


# --------------------------------------------------------------------------------------
# Gallery: the figures the examples save
# --------------------------------------------------------------------------------------

_seen = {}


def _figure_dir(gallery_conf):
    return Path(gallery_conf["src_dir"]) / "_build" / "example_figures"


def reset_figure_dir(gallery_conf, fname):
    """Point ``SK_EBM_FIGURE_DIR`` at an empty folder before each example."""
    folder = _figure_dir(gallery_conf) / Path(fname).stem
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ["SK_EBM_FIGURE_DIR"] = str(folder)
    _seen.clear()


def scrape_saved_figures(block, block_vars, gallery_conf):
    """Show the PNG files written to ``$SK_EBM_FIGURE_DIR`` by the last block.

    A file counts as new when its name, size or modification time differs from
    what the previous blocks left; each is copied, byte for byte, to the path
    sphinx-gallery assigns, so the page shows exactly what the example saved.
    """
    from sphinx_gallery.scrapers import figure_rst

    folder = Path(os.environ.get("SK_EBM_FIGURE_DIR", ""))
    if not folder.is_dir():
        return ""
    new = []
    for path in sorted(folder.glob("*.png")):
        stat = path.stat()
        key = (stat.st_size, stat.st_mtime_ns)
        if _seen.get(path.name) != key:
            _seen[path.name] = key
            new.append(path)
    if not new:
        return ""
    targets = []
    for path, target in zip(new, block_vars["image_path_iterator"]):
        shutil.copyfile(path, target)
        targets.append(target)
    titles = ", ".join(path.stem.replace("_", " ") for path in new)
    return figure_rst(targets, gallery_conf["src_dir"], fig_titles=titles)


# --------------------------------------------------------------------------------------
# Benchmark tables from Markdown results
# --------------------------------------------------------------------------------------


def _cells(line):
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def markdown_section(text, section=None):
    """reST lines for a results file, or for one ``###`` section of it.

    Understands what the benchmark scripts write: ``#`` headings, pipe tables
    and paragraphs. Headings become rubrics, tables become list-tables.
    """
    lines = text.splitlines()
    if section is not None:
        heads = [
            (i, match.group(1).strip())
            for i, line in enumerate(lines)
            if (match := re.match(r"#+\s+(.*)", line))
        ]
        starts = [i + 1 for i, title in heads if title == section]
        if not starts:
            raise ValueError(f"no section {section!r}")
        end = next((i for i, _ in heads if i >= starts[0]), len(lines))
        lines = lines[starts[0] : end]
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        heading = re.match(r"#+\s+(.*)", line)
        if heading:
            out += [f".. rubric:: {heading.group(1).strip()}", ""]
            i += 1
        elif line.lstrip().startswith("|"):
            rows = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                if not re.fullmatch(r"\s*\|[\s|:-]*\|?\s*", lines[i]):
                    rows.append(_cells(lines[i]))
                i += 1
            out += [".. list-table::", "   :header-rows: 1", ""]
            for row in rows:
                out.append(f"   * - {_inline(row[0])}")
                out += [f"     - {_inline(cell)}" for cell in row[1:]]
            out.append("")
        elif line.strip():
            paragraph = []
            while (
                i < len(lines)
                and lines[i].strip()
                and not re.match(r"\s*(#|\|)", lines[i])
            ):
                paragraph.append(_inline(lines[i].strip()))
                i += 1
            out += [*paragraph, ""]
        else:
            i += 1
    return out


def _inline(text):
    """Markdown inline text as reST: code spans kept, other markup escaped."""
    parts = re.split(r"(`[^`]+`)", text)
    converted = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            converted.append(f"``{part[1:-1]}``")
        else:
            part = re.sub(r"\*\*(.+?)\*\*", r"\1", part)
            part = re.sub(r"([*_`|\\])", r"\\\1", part)
            converted.append(part)
    # An empty cell still needs content in a list-table row.
    return "".join(converted) or r"\ "


class BenchmarkTable(SphinxDirective):
    """``.. benchmark-table:: ../benchmarks/results/ood.md`` [``:section: digits``]."""

    required_arguments = 1
    final_argument_whitespace = True
    option_spec = {"section": directives.unchanged_required}

    def run(self):
        rel, path = self.env.relfn2path(self.arguments[0])
        self.env.note_dependency(rel)
        try:
            text = Path(path).read_text()
            section = self.options.get("section")
            lines = markdown_section(text, section)
            if section is not None:
                lines = [f".. rubric:: {_inline(section)}", "", *lines]
        except (OSError, ValueError) as exc:
            raise self.error(f"benchmark-table {self.arguments[0]}: {exc}")
        container = nodes.container(classes=["benchmark-table"])
        self.state.nested_parse(StringList(lines, path), self.content_offset, container)
        return [container]


def clear_type_docstrings(app, what, name, obj, options, lines):
    """Drop the docstring that a data object inherits from its type.

    ``autodata`` falls back to ``type(obj).__doc__`` (``str``'s for
    ``__version__``), which says nothing about the object itself.
    """
    if what == "data" and lines and obj.__doc__ == type(obj).__doc__:
        lines[:] = []


def skip_torch_module_members(app, what, name, obj, skip, options):
    """Skip a class member that is ``torch.nn.Module``'s own, unchanged.

    The network classes (``sk_ebm.nets``) are ``nn.Module`` subclasses; with
    ``:inherited-members:`` their pages would repeat torch's whole API, whose
    docstrings are not valid reST for this build (they fail it). Members a
    class defines or overrides (``forward``...) stay.
    """
    if what != "class":
        return None
    import torch

    own = vars(torch.nn.Module)
    if name in own and (obj is own[name] or obj is getattr(torch.nn.Module, name)):
        return True
    return None


def sklearn_refs_as_text(app, env, node, contnode):
    """Render sklearn's own cross-references, in inherited docstrings, as text.

    Methods inherited from scikit-learn (``get_params``, ``set_output``,
    ``set_fit_request``...) keep sklearn's docstrings, whose ``:ref:`` and
    ``:term:`` roles name pages of scikit-learn's site. Without network access
    for intersphinx they cannot resolve; they are shown as plain text. Every
    other unresolved reference still fails the build.
    """
    if node.get("reftype") in ("ref", "term") and "docstring of sklearn." in str(
        node.source
    ):
        return contnode
    return None


def setup(app):
    # Before Sphinx lists the source files, so autosummary sees these pages.
    app.connect("config-inited", write_api_pages)
    app.connect("autodoc-process-docstring", clear_type_docstrings)
    app.connect("autodoc-skip-member", skip_torch_module_members)
    app.connect("missing-reference", sklearn_refs_as_text)
    app.add_directive("benchmark-table", BenchmarkTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
