"""Check the built documentation; exit 1 with every problem found.

Run after ``bash scripts/docs.sh`` (which runs it too)::

    python scripts/check_docs.py [--require-browser] [--screenshots DIR]
    python scripts/check_docs.py --update-readme-images

What it checks, in docs/_build/html:

1. links: every local ``href``, ``src`` and ``srcset`` target of every page
   exists, and every ``#fragment`` into a local page names an element there;
2. API: every name in the ``__all__`` of every public ``sk_ebm`` module (no
   part of its dotted name starts with ``_``) is documented on an API page
   (an element with id ``<module>.<name>``, as autodoc writes it);
3. gallery: each ``examples/plot_*.py`` has a page that shows every PNG the
   example saved during the build, each a real PNG file, and the gallery
   index links to it;
4. README images: each ``docs/images/*.png`` is byte for byte the figure of
   that name the examples drew in this build (``--update-readme-images``
   copies them instead), so a stale image cannot be committed;
5. browser: headless Chromium (Debian's ``chromium``) opens the key pages over
   a local HTTP server and reports, per page, whether it loaded with a title,
   a main text and only images that decoded. Without Chromium this step is
   skipped with a message, or fails with ``--require-browser``.
"""

import argparse
import html
import http.server
import importlib
import json
import os
import pkgutil
import shutil
import subprocess
import sys
import threading
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")


# --------------------------------------------------------------------------------------
# HTML parsing
# --------------------------------------------------------------------------------------


class _Page(HTMLParser):
    """Links, element ids and images of one HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links = []  # (tag, attribute, value)
        self.ids = set()
        self.images = []  # attribute dicts of <img>

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        if tag == "img":
            self.images.append(attrs)
        for name in ("href", "src"):
            if attrs.get(name):
                self.links.append((tag, name, attrs[name]))
        if attrs.get("srcset"):
            for candidate in attrs["srcset"].split(","):
                if candidate.strip():
                    self.links.append((tag, "srcset", candidate.split()[0]))


# A Jinja macro file that pydata-sphinx-theme leaves in the output; not a page.
NOT_PAGES = ("webpack-macros.html",)


def parse_pages(html_dir):
    """``{path: _Page}`` for every ``.html`` page under ``html_dir``."""
    pages = {}
    for path in sorted(html_dir.rglob("*.html")):
        if path.name in NOT_PAGES:
            continue
        page = _Page()
        page.feed(path.read_text(encoding="utf-8", errors="replace"))
        pages[path] = page
    return pages


def _local_target(page_path, value):
    """``(file, fragment)`` a local link points at, or None for other URLs."""
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or value.startswith(("//", "data:")):
        return None
    if not parts.path:
        return page_path, unquote(parts.fragment)
    return (page_path.parent / unquote(parts.path)).resolve(), unquote(parts.fragment)


# --------------------------------------------------------------------------------------
# Checks on the files
# --------------------------------------------------------------------------------------


def check_links(pages, html_dir):
    errors = []
    for path, page in pages.items():
        for tag, attribute, value in page.links:
            target = _local_target(path.resolve(), value)
            if target is None:
                continue
            file, fragment = target
            if file.is_dir():
                file = file / "index.html"
            where = f"{path.relative_to(html_dir)}: <{tag} {attribute}={value!r}>"
            if not file.exists():
                errors.append(f"{where}: {file} does not exist")
            elif fragment and file.suffix == ".html":
                ids = pages[file].ids if file in pages else None
                if ids is not None and fragment not in ids:
                    errors.append(f"{where}: no id {fragment!r} in {file.name}")
    return errors


def _public_module_names():
    """Every importable sk_ebm module with no ``_``-prefixed part in its name."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    package = importlib.import_module("sk_ebm")
    names = ["sk_ebm"] + [
        info.name
        for info in pkgutil.walk_packages(package.__path__, "sk_ebm.")
        if not any(part.startswith("_") for part in info.name.split("."))
    ]
    return names


def public_api():
    """``{module: __all__}`` of every public sk_ebm module that defines one.

    Walks the package independently of the docs build, so a module the build
    forgot is reported here.
    """
    api = {}
    for name in _public_module_names():
        exported = getattr(importlib.import_module(name), "__all__", None)
        if exported is not None:
            api[name] = list(exported)
    return api


def modules_without_all():
    """Public-named modules with no ``__all__``: what the API pages leave out."""
    return [
        name
        for name in _public_module_names()
        if not hasattr(importlib.import_module(name), "__all__")
    ]


def check_api(pages, html_dir):
    api_dir = (html_dir / "api").resolve()
    ids = set()
    for path, page in pages.items():
        if api_dir in path.resolve().parents:
            ids |= page.ids
    errors = [
        f"{module}.{name} (in {module}.__all__) is not documented under api/"
        for module, exported in public_api().items()
        for name in exported
        if f"{module}.{name}" not in ids
    ]
    return errors, sum(len(exported) for exported in public_api().values())


def _is_png(path):
    with open(path, "rb") as file:
        return file.read(8) == PNG_SIGNATURE


def check_gallery(pages, html_dir, figures_dir):
    errors = []
    gallery = html_dir / "auto_examples"
    index = pages.get(gallery / "index.html")
    if index is None:
        return [f"{gallery / 'index.html'} is missing"]
    linked = {Path(urlsplit(value).path).name for _, _, value in index.links}
    for example in sorted((ROOT / "examples").glob("plot_*.py")):
        page_path = gallery / f"{example.stem}.html"
        page = pages.get(page_path)
        if page is None:
            errors.append(f"no gallery page for {example.name}")
            continue
        if page_path.name not in linked:
            errors.append(f"the gallery index does not link to {page_path.name}")
        shown = [img for img in page.images if "sphx-glr" in img.get("class", "")]
        saved = sorted((figures_dir / example.stem).glob("*.png"))
        if not shown:
            errors.append(f"{page_path.name} shows no figure")
        if len(shown) != len(saved):
            errors.append(
                f"{page_path.name} shows {len(shown)} figures; {example.name} "
                f"saved {len(saved)} ({', '.join(p.name for p in saved)})"
            )
        for img in shown:
            file = (page_path.parent / unquote(img.get("src", ""))).resolve()
            if not file.is_file() or file.stat().st_size < 1000 or not _is_png(file):
                errors.append(f"{page_path.name}: {img.get('src')} is not a PNG")
    return errors


def check_readme_images(figures_dir, update):
    errors = []
    drawn = {path.name: path for path in figures_dir.glob("*/*.png")}
    for image in sorted((DOCS / "images").glob("*.png")):
        fresh = drawn.get(image.name)
        if fresh is None:
            errors.append(f"docs/images/{image.name}: no example drew it in this build")
        elif fresh.read_bytes() != image.read_bytes():
            if update:
                shutil.copyfile(fresh, image)
                print(f"updated docs/images/{image.name} from {fresh}")
            else:
                errors.append(
                    f"docs/images/{image.name} differs from what "
                    f"examples/{fresh.parent.name}.py draws now; run "
                    "python scripts/check_docs.py --update-readme-images"
                )
    readme = (ROOT / "README.md").read_text()
    for image in sorted((DOCS / "images").glob("*.png")):
        if f"docs/images/{image.name}" not in readme:
            errors.append(f"docs/images/{image.name} is not used by README.md")
    return errors


# --------------------------------------------------------------------------------------
# Headless Chromium
# --------------------------------------------------------------------------------------

# Loads each page in an iframe (same origin: served by one local server),
# waits for its images, and writes one JSON object into <pre id="result">.
CHECKER = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>check</title></head><body>
<pre id="result">not finished</pre><pre id="progress"></pre>
<script>
const PAGES = %s;
function loaded(frame, url) {
  return new Promise(resolve => {
    frame.onload = () => resolve(true);
    frame.onerror = () => resolve(false);
    frame.src = url;
  });
}
async function inspect(url) {
  const frame = document.createElement("iframe");
  frame.style.width = "1280px";
  frame.style.height = "900px";
  document.body.appendChild(frame);
  const ok = await loaded(frame, url);
  const doc = frame.contentDocument;
  if (!ok || !doc || !doc.body) { frame.remove(); return {loaded: false}; }
  const images = Array.from(doc.images);
  for (const img of images) { img.loading = "eager"; }
  await Promise.all(images.map(img => img.decode().catch(() => null)));
  const main = doc.querySelector("article") || doc.body;
  const result = {
    loaded: true,
    title: doc.title,
    text: main.innerText.trim().length,
    images: images.length,
    broken: images.filter(img => !(img.complete && img.naturalWidth > 0))
                  .map(img => img.getAttribute("src")),
  };
  frame.remove();
  return result;
}
(async () => {
  const results = {};
  for (const url of PAGES) {
    try { results[url] = await inspect(url); }
    catch (error) { results[url] = {loaded: false, error: String(error)}; }
    document.getElementById("progress").textContent = JSON.stringify(results);
  }
  document.getElementById("result").textContent = JSON.stringify(results);
})();
</script></body></html>
"""


def key_pages(html_dir):
    """The pages the browser opens: every hand-written page, the gallery, the
    API module pages and the estimators' pages."""
    pages = [
        path.relative_to(html_dir).as_posix()
        for path in sorted(html_dir.rglob("*.html"))
        if not path.relative_to(html_dir).parts[0].startswith("_")
        and "generated" not in path.parts
        and path.name
        not in ("genindex.html", "search.html", "py-modindex.html", *NOT_PAGES)
    ]
    pages += [
        f"api/generated/sk_ebm.{name}.html"
        for name in ("JEMClassifier", "EnergyDensityEstimator")
    ]
    return pages


class _Handler(http.server.SimpleHTTPRequestHandler):
    checker = b""

    def do_GET(self):
        if self.path.startswith("/__check__.html"):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(self.checker)))
            self.end_headers()
            self.wfile.write(self.checker)
        else:
            super().do_GET()

    def log_message(self, *args):
        pass


def _read_pre(dom, element_id):
    """The JSON the checker page wrote into ``<pre id=element_id>``, or None."""
    start = dom.find(f'<pre id="{element_id}">')
    if start < 0:
        return None
    start += len(f'<pre id="{element_id}">')
    text = html.unescape(dom[start : dom.find("</pre>", start)])
    try:
        return json.loads(text)
    except ValueError:
        return None


def find_browser():
    for name in BROWSERS:
        if path := shutil.which(name):
            return path
    return None


def _browser_args(browser):
    # Root (CI) needs --no-sandbox; the rest keeps headless Chromium quiet.
    return [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--no-first-run",
        "--window-size=1280,1600",
    ]


#: Browser runs for the pages a run left unopened: headless Chromium sometimes
#: dumps its page early (exit code 0) on a loaded machine.
BROWSER_ATTEMPTS = 3


def _open_pages(browser, base, urls):
    """One browser run over ``urls``: the checker's report, and why it is partial."""
    _Handler.checker = (CHECKER % json.dumps(urls)).encode()
    result = subprocess.run(
        [
            *_browser_args(browser),
            # Virtual time: the budget is not waited for in real time.
            "--virtual-time-budget=10000000",
            "--dump-dom",
            f"{base}/__check__.html",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = _read_pre(result.stdout, "result")
    if report is not None:
        return report, None
    report = _read_pre(result.stdout, "progress") or {}
    return report, (
        f"the browser stopped after {len(report)} of {len(urls)} pages "
        f"(exit code {result.returncode})"
    )


def check_in_browser(browser, html_dir, screenshots=None):
    pages = key_pages(html_dir)
    handler = partial(_Handler, directory=str(html_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        report, errors = {}, []
        for attempt in range(1, BROWSER_ATTEMPTS + 1):
            missing = ["/" + p for p in pages if "/" + p not in report]
            opened, stopped = _open_pages(browser, base, missing)
            report.update(opened)
            if stopped is None:
                break
            print(f"attempt {attempt}: {stopped}")
        else:
            errors.append(f"{stopped}, {BROWSER_ATTEMPTS} attempts")
        for url in ["/" + p for p in pages]:
            if url not in report:
                errors.append(f"{url}: not opened")
        for url, page in report.items():
            if not page.get("loaded"):
                errors.append(f"{url}: did not load {page.get('error', '')}")
            elif not page["title"]:
                errors.append(f"{url}: no title")
            elif page["text"] < 50:
                errors.append(f"{url}: nearly empty ({page['text']} characters)")
            if page.get("broken"):
                errors.append(f"{url}: images that did not load: {page['broken']}")
            if url.startswith("/auto_examples/plot_") and not page.get("images"):
                errors.append(f"{url}: no images")
        if screenshots is not None:
            screenshots.mkdir(parents=True, exist_ok=True)
            shots = (
                ("index.png", "index.html", 1600),
                ("example.png", "auto_examples/plot_ood_scores.html", 4000),
            )
            for name, page, height in shots:
                subprocess.run(
                    [
                        *_browser_args(browser),
                        f"--window-size=1280,{height}",
                        f"--screenshot={screenshots / name}",
                        f"{base}/{page}",
                    ],
                    capture_output=True,
                    timeout=120,
                )
                print(f"screenshot of {page}: {screenshots / name}")
        return errors, len(report)
    finally:
        server.shutdown()


# --------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=DOCS / "_build" / "html")
    parser.add_argument(
        "--figures", type=Path, default=DOCS / "_build" / "example_figures"
    )
    parser.add_argument(
        "--require-browser",
        action="store_true",
        help="fail, instead of skipping, when Chromium is not installed",
    )
    parser.add_argument("--screenshots", type=Path, help="save two screenshots here")
    parser.add_argument(
        "--update-readme-images",
        action="store_true",
        help="copy this build's figures over docs/images/*.png",
    )
    args = parser.parse_args(argv)
    html_dir = args.html.resolve()
    if not (html_dir / "index.html").exists():
        print(f"{html_dir}/index.html is missing: build the docs first")
        return 1

    pages = parse_pages(html_dir)
    failures = {}
    failures["links"] = check_links(pages, html_dir)
    failures["api"], n_names = check_api(pages, html_dir)
    failures["gallery"] = check_gallery(pages, html_dir, args.figures)
    failures["readme images"] = check_readme_images(
        args.figures, args.update_readme_images
    )
    print(
        f"checked {len(pages)} pages: local links and images, {n_names} public "
        "names, the gallery's figures, the README's images"
    )
    print(
        "modules without __all__, so without an API page of their own (unless "
        "docs/_ext/sk_ebm_docs.py EXTRA_PUBLIC names them): "
        + ", ".join(modules_without_all())
    )
    browser = find_browser()
    if browser is None:
        message = f"browser check skipped: none of {', '.join(BROWSERS)} found"
        if args.require_browser:
            failures["browser"] = [message]
        else:
            print(message)
    else:
        failures["browser"], n_opened = check_in_browser(
            browser, html_dir, args.screenshots
        )
        print(f"{Path(browser).name} opened {n_opened} pages")

    n_failures = sum(len(errors) for errors in failures.values())
    for check, errors in failures.items():
        for error in errors:
            print(f"FAIL [{check}] {error}")
    print("docs check: " + ("passed" if not n_failures else f"{n_failures} failures"))
    return 1 if n_failures else 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
