"""The built HTML book served on loopback and opened in one headless Chromium.

Needs `make book` first (the Makefile's `browser` target builds it) and Debian's
chromium package; Playwright drives that browser and downloads none. Every
request that leaves this machine is blocked and recorded.

To stay fast, the browser is started once, and each page of the book is loaded
once per viewport width (`book_page`) and shared by every test that only reads
it. A test that clicks or scrolls opens a page of its own (`fresh_page`).
"""

from __future__ import annotations

import functools
import http.server
import sys
import threading
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).parent))  # the tests import book_site

from book_site import CHROMIUM, DESKTOP, HTML, BookPage, open_book_page


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test log readable
        pass


@pytest.fixture(scope="session")
def site():
    if not (HTML / "index.html").is_file():
        pytest.fail(f"{HTML} has no built book; run `make book` first")
    handler = functools.partial(QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
def book_page(browser, site):
    """``book_page(name, width=DESKTOP)``: the page, loaded once and shared; tests must not change it."""
    cache: dict[tuple[str, int], BookPage] = {}

    def get(name: str, width: int = DESKTOP) -> BookPage:
        if (name, width) not in cache:
            cache[name, width] = open_book_page(browser, site, name, width)
        return cache[name, width]

    yield get
    for loaded in cache.values():
        loaded.page.close()


@pytest.fixture
def fresh_page(browser, site):
    """``fresh_page(name, width)``: a page of the test's own, to click in; closed after the test."""
    opened: list[BookPage] = []

    def get(name: str, width: int) -> BookPage:
        opened.append(open_book_page(browser, site, name, width))
        return opened[-1]

    yield get
    for loaded in opened:
        loaded.page.close()
