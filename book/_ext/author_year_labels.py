"""Sphinx extension: bibliography labels in the same author-year style as the citations.

sphinxcontrib-bibtex's ``author_year`` reference style prints in-text citations
as "[Hu et al., 2018]", but the pybtex formatting styles that lay out the
bibliography label its entries "[HSS18]" (alpha) or "[1]" (unsrt): a reader
who meets "Hu et al., 2018" in a chapter looks for it in vain among the labels.

This extension registers two plugins that print one label, built in one place:

* the pybtex formatting style ``author_year``: unsrt's entry layout, entries
  labelled "Hu et al., 2018" and listed in the order of their labels; two entries
  whose labels would coincide become "…, 2018a" and "…, 2018b";
* the reference style ``author_year_label``: sphinxcontrib-bibtex's
  ``author_year`` citations, whose year is read back from that label (so the
  "a"/"b" reaches the text too) and whose "et al." is set upright, as it is in
  the label, so that a citation's text and its entry's label are the same string.

Enable with ``bibtex_default_style = "author_year"`` and
``bibtex_reference_style = "author_year_label"``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from string import ascii_lowercase

from pybtex.plugin import find_plugin
from pybtex.plugin import register_plugin as register_pybtex_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style.sorting import BaseSortingStyle
from pybtex.style.template import node
from sphinxcontrib.bibtex.plugin import register_plugin as register_bibtex_plugin
from sphinxcontrib.bibtex.style.referencing import BracketStyle, GroupReferenceStyle, PersonStyle
from sphinxcontrib.bibtex.style.referencing.basic_author_year import (
    BasicAuthorYearParentheticalReferenceStyle,
    BasicAuthorYearTextualReferenceStyle,
)
from sphinxcontrib.bibtex.style.referencing.extra_author import ExtraAuthorReferenceStyle
from sphinxcontrib.bibtex.style.referencing.extra_empty import ExtraEmptyReferenceStyle
from sphinxcontrib.bibtex.style.referencing.extra_label import ExtraLabelReferenceStyle
from sphinxcontrib.bibtex.style.referencing.extra_year import ExtraYearReferenceStyle
from sphinxcontrib.bibtex.style.template import join, join2, post_text, pre_text, reference

#: Between the authors and the year, in labels and in parenthetical citations.
AUTHOR_YEAR_SEP = ", "
#: Three or more authors: the first one's last name, then this.
ET_AL = " et al."


def _last_name(person) -> str:
    """'van der Maaten' for Laurens van der Maaten, as the citations' name style ("last") prints it."""
    return find_plugin("pybtex.style.names", "last")().format(person).format().render_as("text")


def _authors(entry) -> str:
    """Authors as sphinxcontrib-bibtex's author_year style names them: 'Hu', 'He and Sun', 'Hu et al.'.

    Falls back on the editors, then on the title, as that style does.
    """
    persons = entry.persons.get("author") or entry.persons.get("editor")
    if not persons:
        return Text.from_latex(entry.fields.get("title", entry.key)).render_as("text")
    names = [_last_name(person) for person in persons]
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return names[0] + ET_AL


def _year(entry) -> str:
    return entry.fields.get("year", "n.d.")


def _label(entry) -> str:
    """'Hu et al., 2018': the label before any letter that tells apart two entries sharing it."""
    return _authors(entry) + AUTHOR_YEAR_SEP + _year(entry)


class AuthorYearLabelStyle(BaseLabelStyle):
    """Labels 'Hu et al., 2018'; coinciding labels get 'a', 'b', … after the year, in sorted order."""

    def format_labels(self, sorted_entries):
        labels = [_label(entry) for entry in sorted_entries]
        count = Counter(labels)
        seen: defaultdict[str, int] = defaultdict(int)
        for label in labels:
            if count[label] > 1:
                suffix = ascii_lowercase[seen[label] % 26] * (1 + seen[label] // 26)
                seen[label] += 1
                yield label + suffix
            else:
                yield label


class AuthorYearSortingStyle(BaseSortingStyle):
    """In the order of the labels, as a reader scans them; entries sharing a label go by title."""

    def sorting_key(self, entry):
        title = Text.from_latex(entry.fields.get("title", "")).render_as("text").lower()
        return (_label(entry).lower(), title)


class AuthorYearStyle(UnsrtStyle):
    """unsrt's entries, in the order of their author-year labels."""

    default_label_style = AuthorYearLabelStyle
    default_sorting_style = AuthorYearSortingStyle


@node
def label_year(children, data) -> Text:
    """The year as the entry's label prints it, disambiguating letter included."""
    assert not children
    return Text(data["formatted_entry"].label.rpartition(AUTHOR_YEAR_SEP)[2])


class _LabelYearParenthetical(BasicAuthorYearParentheticalReferenceStyle):
    def inner(self, role_name):
        return join2(sep1=self.pre_text_sep, sep2=self.post_text_sep)[
            pre_text,
            reference[
                join(sep=self.author_year_sep)[
                    self.person.author_or_editor_or_title(full="s" in role_name),
                    label_year,
                ]
            ],
            post_text,
        ]


class _LabelYearTextual(BasicAuthorYearTextualReferenceStyle):
    def inner(self, role_name):
        return join(sep=self.text_reference_sep)[
            self.person.author_or_editor_or_title(full="s" in role_name),
            join[
                self.bracket.left,
                join2(sep1=self.pre_text_sep, sep2=self.post_text_sep)[
                    pre_text, reference[label_year], post_text
                ],
                self.bracket.right,
            ],
        ]


class _LabelYearOnly(ExtraYearReferenceStyle):
    def inner(self, role_name):
        return reference[label_year]


def _upright_et_al() -> PersonStyle:
    return PersonStyle(other=Text(ET_AL))


@dataclass
class AuthorYearLabelReferenceStyle(GroupReferenceStyle):
    """sphinxcontrib-bibtex's author_year citations, with the year and "et al." as the labels print them."""

    bracket_textual: BracketStyle = field(default_factory=BracketStyle)
    bracket_parenthetical: BracketStyle = field(default_factory=BracketStyle)
    bracket_author: BracketStyle = field(default_factory=BracketStyle)
    bracket_label: BracketStyle = field(default_factory=BracketStyle)
    bracket_year: BracketStyle = field(default_factory=BracketStyle)
    person: PersonStyle = field(default_factory=_upright_et_al)

    def __post_init__(self):
        self.styles.extend(
            [
                _LabelYearParenthetical(
                    bracket=self.bracket_parenthetical, person=self.person, author_year_sep=AUTHOR_YEAR_SEP
                ),
                _LabelYearTextual(bracket=self.bracket_textual, person=self.person),
                ExtraAuthorReferenceStyle(bracket=self.bracket_author, person=self.person),
                ExtraLabelReferenceStyle(bracket=self.bracket_label),
                _LabelYearOnly(bracket=self.bracket_year),
                ExtraEmptyReferenceStyle(),
            ]
        )
        super().__post_init__()


def setup(app):
    register_pybtex_plugin("pybtex.style.formatting", "author_year", AuthorYearStyle, force=True)
    register_bibtex_plugin(
        "sphinxcontrib.bibtex.style.referencing",
        "author_year_label",
        AuthorYearLabelReferenceStyle,
        force=True,
    )
    return {"parallel_read_safe": True, "parallel_write_safe": True}
