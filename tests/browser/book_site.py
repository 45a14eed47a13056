"""What the browser tests share: the book's pages from _toc.yml, the viewports, a loaded page.

The fixtures that use these are in conftest.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import yaml
from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
CHROMIUM = "/usr/bin/chromium"
DESKTOP = 1280  # px: a laptop, both sidebars shown beside the text
PHONE = 390  # px: a phone held upright, both sidebars folded away
HEIGHT = 800


def toc_pages() -> list[str]:
    """Every page in _toc.yml, in reading order, as paths without suffix ("book/intro", "notebooks/01_equations")."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    return [str(Path(page).with_suffix("")) for page in pages]


PAGES = toc_pages()
CHAPTERS = [page for page in PAGES if page.startswith("notebooks/")]


@dataclass
class BookPage:
    """A loaded page with what it logged: console errors and the outside requests that were blocked."""

    name: str
    page: Page
    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


def open_book_page(browser, site: str, name: str, width: int) -> BookPage:
    """Load page ``name`` at ``width`` px with outside requests blocked; MathJax has typeset when it returns."""
    page = browser.new_page(viewport={"width": width, "height": HEIGHT}, device_scale_factor=1)
    loaded = BookPage(name, page)
    page.on(
        "console", lambda message: loaded.errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: loaded.errors.append(str(error)))

    def route(request_route):
        if urlparse(request_route.request.url).hostname in ("127.0.0.1", "localhost"):
            request_route.continue_()
        else:
            loaded.blocked.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    url = f"{site}/{name}.html"
    response = page.goto(url, wait_until="networkidle")
    assert response is not None and response.ok, f"{url} answered {response and response.status}"
    # Layout is final only once MathJax has typeset (it changes line heights) and the fonts are in.
    page.evaluate("async () => { if (window.MathJax?.startup?.promise) await MathJax.startup.promise; }")
    page.evaluate("document.fonts.ready.then(() => true)")
    return loaded
