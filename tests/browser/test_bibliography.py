"""Citations and the bibliography speak one style: the chapter says "[Hu et al., 2018]" and
the references page labels that entry "[Hu et al., 2018]" (book/_ext/author_year_labels.py).

The first tests read the built book; the last ones run the extension's label
style on entries the book does not have yet (shared labels, editors, no year).
"""

import re
import sys

import pytest
from book_site import PAGES, ROOT

LABEL = re.compile(r"^\S.*, (\d{4}[a-z]*|n\.d\.)$")  # "Hu et al., 2018", "He and Sun, 2016b"

CITATIONS = """() => Array.from(document.querySelectorAll('.bibtex-citation a[href*="references.html#"]')).map(a => ({
  text: a.textContent.trim(), id: a.href.split('#')[1],
  parenthetical: a.closest('.bibtex-citation').textContent.trim().startsWith('['),
}))"""
LABELS = """() => Object.fromEntries(Array.from(document.querySelectorAll('.citation')).map(c => [
  c.id, c.querySelector('.label').textContent.trim().replace(/^\\[|\\]$/g, ''),
]))"""


@pytest.fixture(scope="module")
def labels(book_page):
    return book_page("book/references").page.evaluate(LABELS)


def test_the_bibliography_is_labelled_author_year(labels):
    assert labels, "the references page lists no entries"
    wrong = [label for label in labels.values() if not LABEL.match(label)]
    assert wrong == [], f"labels not in 'Author et al., year' form: {wrong}"
    assert len(set(labels.values())) == len(labels), f"two entries share a label: {sorted(labels.values())}"
    assert list(labels.values()) == sorted(labels.values(), key=str.lower), "entries are not in label order"


@pytest.mark.parametrize("name", [page for page in PAGES if page != "book/references"])
def test_each_citation_reads_as_its_entrys_label(book_page, labels, name):
    citations = book_page(name).page.evaluate(CITATIONS)
    if name == "notebooks/01_equations":
        assert citations, "chapter 1 cites the SE paper; no citation was found"
    for citation in citations:
        label = labels.get(citation["id"])
        assert label is not None, f"{name}: {citation['text']!r} links to #{citation['id']}, not an entry"
        # parenthetical "[Hu et al., 2018]" links the whole label; textual "Hu et al. [2018]" links the year
        expected = label if citation["parenthetical"] else label.rpartition(", ")[2]
        assert citation["text"] == expected, (
            f"{name}: citation {citation['text']!r}, its entry's label {label!r}"
        )


def format_labels(bibtex: str) -> dict[str, str]:
    """key -> label, as the book's bibliography style labels and orders these entries."""
    pybtex_database = pytest.importorskip("pybtex.database")
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    try:
        from author_year_labels import AuthorYearStyle
    finally:
        sys.path.pop(0)
    style = AuthorYearStyle()
    entries = style.sort(pybtex_database.parse_string(bibtex, "bibtex").entries.values())
    return {entry.key: label for entry, label in zip(entries, style.format_labels(entries), strict=True)}


def test_labels_name_one_two_or_first_author_et_al_and_letter_shared_years():
    labels = format_labels(
        """
        @article{solo, author = {Vaswani, Ashish}, title = {B}, year = {2017}}
        @article{pair, author = {He, Kaiming and Sun, Jian}, title = {Zeta}, year = {2016}}
        @article{pair2, author = {He, Kaiming and Sun, Jian}, title = {Alpha}, year = {2016}}
        @article{many, author = {Hu, Jie and Shen, Li and Sun, Gang}, title = {SE}, year = {2018}}
        @article{von, author = {van der Maaten, Laurens and Hinton, Geoffrey}, title = {t-SNE}, year = {2008}}
        @book{edited, editor = {Goodfellow, Ian}, title = {Ed}, year = {2016}}
        @misc{undated, author = {Xiao, Han}, title = {No year}}
        """
    )
    assert labels == {
        "edited": "Goodfellow, 2016",
        "pair2": "He and Sun, 2016a",  # "Alpha" sorts before "Zeta": it takes the a
        "pair": "He and Sun, 2016b",
        "many": "Hu et al., 2018",
        "von": "van der Maaten and Hinton, 2008",
        "solo": "Vaswani, 2017",
        "undated": "Xiao, n.d.",
    }
    assert list(labels) == ["edited", "pair2", "pair", "many", "von", "solo", "undated"]
