"""Every page of the book loads whole and offline: no console errors, no outside requests,
its images load, its equations are typeset by the MathJax the book ships, and each
chapter links to Colab. Fixtures: conftest.py.
"""

import pytest
from book_site import CHAPTERS, HTML, PAGES


def test_the_toc_lists_the_chapters_and_every_page_was_built():
    assert "book/references" in PAGES and len(CHAPTERS) >= 4, PAGES
    missing = [page for page in PAGES if not (HTML / f"{page}.html").is_file()]
    assert missing == [], f"pages in _toc.yml but not in the built book: {missing}"


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_with_its_images_and_without_errors_or_outside_requests(book_page, name):
    loaded = book_page(name)
    page = loaded.page
    assert page.locator("h1").count() >= 1
    assert loaded.errors == [], loaded.errors
    assert loaded.blocked == [], f"the page tried to reach the network: {loaded.blocked[:5]}"
    broken = page.evaluate(
        "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
    )
    assert broken == []
    if name.startswith("notebooks/"):  # every chapter shows figures made by its code
        assert page.evaluate("document.querySelectorAll('img[src*=\"_images\"]').length") >= 1


@pytest.mark.parametrize("name", CHAPTERS)
def test_equations_are_typeset_by_the_shipped_mathjax(book_page, site, name):
    page = book_page(name).page
    page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000)
    page.evaluate("MathJax.startup.promise")
    scripts = page.evaluate("Array.from(document.scripts).map(s => s.src).filter(s => s.includes('mathjax'))")
    assert scripts and all(s.startswith(site) for s in scripts), scripts
    typeset = page.locator("mjx-container").count()
    raw = page.evaluate("document.body.innerText.includes('\\\\frac')")
    assert typeset > 0 and not raw, "equations were left as raw TeX"


def test_chapter_one_numbers_its_equations(book_page):
    page = book_page("notebooks/01_equations").page
    page.evaluate("MathJax.startup.promise")
    assert page.locator("#equation-eq-squeeze").count() == 1
    assert page.locator("a[href='#equation-eq-excitation']").count() >= 1  # referenced from the text


@pytest.mark.parametrize("name", CHAPTERS)
def test_colab_launch_link_is_present(book_page, name):
    page = book_page(name).page
    links = page.evaluate(
        "Array.from(document.querySelectorAll('a')).map(a => a.href).filter(h => h.includes('colab.research.google.com'))"
    )
    assert any(f"{name}.ipynb" in link for link in links), links
