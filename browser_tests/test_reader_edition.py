"""Two chapters of the reader edition (colab/, what the Colab buttons open) rendered as Jupyter renders a
notebook (nbconvert's HTML exporter: markdown to HTML, MathJax for `$…$` and `$$…$$`) and opened in headless
Chromium, offline: no MyST source may be visible, the equations must be typeset, solutions fold. Screenshots
of the top of each page are saved in _build/browser/reader/ for a human look.

Run after `gancourse build` (it writes colab/ and the book's own MathJax, which stands in for Jupyter's).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MATHJAX = ROOT / "_build" / "assets" / "mathjax" / "tex-mml-chtml.js"
OUTPUT = ROOT / "_build" / "reader-html"
SCREENSHOTS = ROOT / "_build" / "browser" / "reader"   # apart from the book pages, which a test counts
CHAPTERS = ("02_wgan_and_wgan_gp", "09_defense_gan")   # many numbers, equations, a code-solution gate each
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
MYST_IN_TEXT = ("{glue", "```{", "{cite", "{exercise}", "{solution", "{admonition}", ":label:", ":class: dropdown")
# Jupyter typesets $…$ as inline maths; MathJax 3 does not by default, so the page gets Jupyter's delimiters
JUPYTER_MATH = ("<script>window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], "
                "processEscapes: true}};</script>")

pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="needs Chromium and chromedriver (Debian: chromium chromium-driver)")


def render(chapter: str) -> Path:
    import nbformat
    from nbconvert import HTMLExporter

    notebook = ROOT / "colab" / f"{chapter}.ipynb"
    if not notebook.is_file() or not MATHJAX.is_file():
        pytest.fail(f"{notebook} or the book's MathJax is missing; run `gancourse build` first")
    exporter = HTMLExporter(template_name="lab", mathjax_url=MATHJAX.as_uri())
    html, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page = OUTPUT / f"{chapter}.html"
    page.write_text(html.replace("<head>", "<head>" + JUPYTER_MATH, 1), encoding="utf-8")
    return page


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1100,1400", "--allow-file-access-from-files",
                     "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):  # offline: no host resolves
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_reader_edition_reads_as_plain_jupyter(browser, chapter):
    browser.get(render(chapter).as_uri())
    typeset = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const wait = () => window.MathJax && MathJax.startup && MathJax.startup.promise"
        "  ? MathJax.startup.promise.then(() => done(document.querySelectorAll('mjx-container').length),"
        "                                 () => done(-1)) : done(-2);"
        "if (document.readyState === 'complete') wait(); else window.addEventListener('load', wait);")
    text = browser.find_element("tag name", "body").text
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"{chapter}.png"))
    assert [marker for marker in MYST_IN_TEXT if marker in text] == [], "MyST source is visible on the page"
    assert typeset > 20, f"MathJax typeset {typeset} equations (-2: not loaded, -1: failed)"
    assert "$$" not in text, "a display equation was left as source"
    assert "published run" in text and "Exercise:" in text
    closed = browser.execute_script("return [...document.querySelectorAll('details')].filter(d => !d.open).length")
    assert closed >= 1, "the solutions fold (closed <details>)"
