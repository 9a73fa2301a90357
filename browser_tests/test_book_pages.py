"""The built HTML book, opened page by page in headless Chromium, offline.

Run after `gancourse build` (the Makefile's `make test` does, when Chromium and chromedriver are present):
every page must load without a console error, every image must load, every internal link must point at
an existing page and anchor, every equation must be typeset by the book's own MathJax (no CDN: the browser
cannot resolve any host), and the search page must find a term. Screenshots of a few pages are saved in
_build/browser/ for a human look.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "browser"
SCREENSHOT_PAGES = ("book/intro.html", "book/chapters/02_wgan_and_wgan_gp.html",
                    "book/chapters/09_defense_gan.html", "book/glossary.html")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="needs Chromium and chromedriver (Debian: chromium chromium-driver)")


def book_pages() -> list[Path]:
    if not (HTML / "index.html").exists():
        pytest.fail(f"no built book in {HTML}; run `gancourse build` first")
    skipped = {"genindex.html", "search.html"}
    return sorted(page for page in HTML.rglob("*.html")
                  if not any(part.startswith((".", "_")) for part in page.relative_to(HTML).parts[:-1])
                  and page.name not in skipped)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1600",
                     "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):  # offline: no host resolves
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def open_page(driver, page: Path) -> None:
    driver.get(page.as_uri())
    driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const wait = () => window.MathJax && MathJax.startup && MathJax.startup.promise"
        "  ? MathJax.startup.promise.then(() => done(true), () => done(false)) : done(null);"
        "if (document.readyState === 'complete') wait(); else window.addEventListener('load', wait);")


def shown_file(driver) -> Path:
    """The file the browser shows (index.html redirects to the first chapter page)."""
    return Path(unquote(urlparse(driver.current_url).path))


def console_errors(driver) -> list[str]:
    """Errors the page caused (not the browser's own request for a site icon, which the book has none of)."""
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE" and "/favicon.ico" not in entry["message"]]


def broken_links(page: Path, html: str) -> list[str]:
    soup = BeautifulSoup(html, "html.parser")
    problems = []
    for anchor in soup.find_all("a", href=True):
        url = urlparse(anchor["href"])
        if url.scheme or anchor["href"].startswith("//"):
            continue                                              # external: the book's readers resolve those
        target = page if not url.path else (page.parent / unquote(url.path)).resolve()
        if not target.exists():
            problems.append(f"{anchor['href']} (no file {target})")
        elif url.fragment and target.suffix == ".html":
            ids = {tag.get("id") for tag in BeautifulSoup(target.read_text(), "html.parser").find_all(id=True)}
            if unquote(url.fragment) not in ids:
                problems.append(f"{anchor['href']} (no anchor #{url.fragment} in {target.name})")
    return problems


def test_every_page_loads_cleanly_with_images_links_and_typeset_math(browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    failures, typeset = [], 0
    for page in book_pages():
        name = page.relative_to(HTML).as_posix()
        browser.get_log("browser")                                # forget the previous page's messages
        open_page(browser, page)
        errors = console_errors(browser)
        broken_images = browser.execute_script(
            "return Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
            ".map(i => i.getAttribute('src'));")
        math = browser.execute_script(
            "const all = Array.from(document.querySelectorAll('.math'));"
            "return {total: all.length,"
            " raw: all.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 60)),"
            " errors: document.querySelectorAll('mjx-merror').length};")
        typeset += math["total"] - len(math["raw"])
        problems = ([f"console: {message}" for message in errors]
                    + [f"broken image: {src}" for src in broken_images]
                    + [f"broken link: {link}" for link in broken_links(shown_file(browser), browser.page_source)]
                    + [f"math not typeset: {text!r}" for text in math["raw"][:5]]
                    + ([f"{math['errors']} MathJax errors"] if math["errors"] else []))
        failures += [f"{name}: {problem}" for problem in problems]
        if name in SCREENSHOT_PAGES:
            browser.save_screenshot(str(SCREENSHOTS / (name.replace("/", "_") + ".png")))
    assert not failures, "\n".join(failures)
    assert typeset > 100, f"only {typeset} equations typeset in the whole book"
    assert len(list(SCREENSHOTS.glob("*.png"))) == len(SCREENSHOT_PAGES)


def test_search_finds_a_term_offline(browser):
    """Search over a local web server (no network): on file:// pages Sphinx's search finds pages but
    browsers refuse the requests that fetch their excerpts, so readers are told to serve the folder."""
    import functools
    import http.server
    import threading

    from selenium.webdriver.support.ui import WebDriverWait

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        browser.get_log("browser")
        browser.get(f"http://127.0.0.1:{server.server_port}/search.html?q=Wasserstein")
        results = WebDriverWait(browser, 30).until(
            lambda driver: driver.find_elements("css selector", "#search-results ul li") or None)
        titles = " ".join(result.text for result in results)
        assert "WGAN" in titles or "Wasserstein" in titles, titles
        assert not console_errors(browser)
    finally:
        server.shutdown()


def test_no_page_asks_for_a_cdn():
    remote = []
    for page in [*book_pages(), HTML / "search.html"]:
        soup = BeautifulSoup(page.read_text(), "html.parser")
        for tag in soup.find_all(["script", "link"]):
            source = tag.get("src") or (tag.get("href") if tag.name == "link" and "stylesheet" in tag.get("rel", [])
                                        else None)
            if source and urlparse(source).scheme in ("http", "https"):
                remote.append(f"{page.relative_to(HTML)}: {source}")
    assert not remote, "\n".join(remote[:20])

