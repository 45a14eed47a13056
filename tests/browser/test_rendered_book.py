"""The built HTML book in headless Chromium, with every request off this machine blocked.

Needs `make book` first (the Makefile's `test` target builds it) and Debian's
chromium package; it drives that browser through Playwright, downloading none.
"""

import functools
import http.server
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
CHROMIUM = "/usr/bin/chromium"
CHAPTERS = ["01_equations", "02_se_block", "03_se_resnet_block", "04_training"]
PAGES = ["book/intro", "book/references"] + [f"notebooks/{name}" for name in CHAPTERS]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test log readable
        pass


@pytest.fixture(scope="module")
def site():
    if not (HTML / "index.html").is_file():
        pytest.fail(f"{HTML} has no built book; run `make book` first")
    handler = functools.partial(QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing; install Debian's chromium package (apt-get install chromium)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"],
        )
        yield instance
        instance.close()


def open_page(browser, url):
    """Load ``url`` with outside requests blocked; return the page, console errors and blocked URLs."""
    page = browser.new_page()
    errors, blocked = [], []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))

    def route(request_route):
        if urlparse(request_route.request.url).hostname in ("127.0.0.1", "localhost"):
            request_route.continue_()
        else:
            blocked.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    response = page.goto(url, wait_until="networkidle")
    assert response is not None and response.ok, f"{url} answered {response and response.status}"
    return page, errors, blocked


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_with_its_images_and_without_errors_or_outside_requests(browser, site, name):
    page, errors, blocked = open_page(browser, f"{site}/{name}.html")
    assert page.locator("h1").count() >= 1
    assert errors == [], errors
    assert blocked == [], f"the page tried to reach the network: {blocked[:5]}"
    broken = page.evaluate(
        "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
    )
    assert broken == []
    if name.startswith("notebooks/"):  # every chapter shows figures made by its code
        assert page.evaluate("document.querySelectorAll('img[src*=\"_images\"]').length") >= 1
    page.close()


@pytest.mark.parametrize("name", CHAPTERS)
def test_equations_are_typeset_by_the_shipped_mathjax(browser, site, name):
    page, _, _ = open_page(browser, f"{site}/notebooks/{name}.html")
    page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000)
    page.evaluate("MathJax.startup.promise")
    scripts = page.evaluate("Array.from(document.scripts).map(s => s.src).filter(s => s.includes('mathjax'))")
    assert scripts and all(s.startswith(site) for s in scripts), scripts
    typeset = page.locator("mjx-container").count()
    raw = page.evaluate("document.body.innerText.includes('\\\\frac')")
    assert typeset > 0 and not raw, "equations were left as raw TeX"
    page.close()


def test_chapter_one_numbers_its_equations(browser, site):
    page, _, _ = open_page(browser, f"{site}/notebooks/01_equations.html")
    page.evaluate("MathJax.startup.promise")
    assert page.locator("#equation-eq-squeeze").count() == 1
    assert page.locator("a[href='#equation-eq-excitation']").count() >= 1  # referenced from the text
    page.close()


@pytest.mark.parametrize("name", CHAPTERS)
def test_colab_launch_link_is_present(browser, site, name):
    page, _, _ = open_page(browser, f"{site}/notebooks/{name}.html")
    links = page.evaluate(
        "Array.from(document.querySelectorAll('a')).map(a => a.href).filter(h => h.includes('colab.research.google.com'))"
    )
    assert any(f"notebooks/{name}.ipynb" in link for link in links), links
    page.close()
