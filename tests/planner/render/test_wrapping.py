"""The fast wrapper returns exactly what `textwrap.wrap` returns, as the text report calls it."""

from __future__ import annotations

import random
import textwrap

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from planner.render.layout import wrap
from planner.render.wrapping import wrap_paragraph


def _stdlib(text: str, width: int, initial: str = "", subsequent: str = "") -> list[str]:
    return textwrap.wrap(
        text,
        width,
        break_on_hyphens=False,
        initial_indent=initial,
        subsequent_indent=subsequent,
    )


def _stdlib_lines(text: str, width: int) -> list[str]:
    """`layout.wrap` as it was written on textwrap: line breaks kept, an empty line kept."""
    return [line for paragraph in text.split("\n") for line in (_stdlib(paragraph, width) or [""])]


_LETTERS = "abcxyz-_.,:;()→—é中😀0123456789" + "ABC"
_WORD = st.text(alphabet=_LETTERS, min_size=1, max_size=12)
_LONG_WORD = st.text(alphabet=_LETTERS, min_size=20, max_size=260)
_SPACES = st.text(alphabet=" ", min_size=1, max_size=14)
_OTHER_SPACE = st.sampled_from(["\t", "\n", "\r\n", "\xa0", "\u2009", "\u3000", "\x0b", "\x0c"])
_INDENTS = st.sampled_from(["", "- ", "  ", "    ", "│   "])


def _texts(pieces: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(pieces, max_size=60).map("".join)


_PRINTABLE = _texts(st.one_of(_WORD, _WORD, _SPACES, _SPACES, _LONG_WORD))
_ANY = _texts(st.one_of(_WORD, _SPACES, _LONG_WORD, _OTHER_SPACE))


@settings(max_examples=600, deadline=None)
@given(_PRINTABLE, st.integers(min_value=1, max_value=120), _INDENTS, _INDENTS)
def test_printable_text_wraps_as_textwrap_does(
    text: str, width: int, initial: str, subsequent: str
) -> None:
    assume(width > max(len(initial), len(subsequent)))  # narrower, textwrap can loop forever
    assert wrap_paragraph(text, width, initial, subsequent) == _stdlib(
        text, width, initial, subsequent
    )


@settings(max_examples=300, deadline=None)
@given(_ANY, st.integers(min_value=1, max_value=120), _INDENTS, _INDENTS)
def test_text_with_tabs_breaks_and_unicode_spaces_wraps_as_textwrap_does(
    text: str, width: int, initial: str, subsequent: str
) -> None:
    assume(width > max(len(initial), len(subsequent)))  # narrower, textwrap can loop forever
    assert wrap_paragraph(text, width, initial, subsequent) == _stdlib(
        text, width, initial, subsequent
    )


@settings(max_examples=300, deadline=None)
@given(_ANY, st.integers(min_value=1, max_value=120))
def test_layout_wrap_keeps_line_breaks_as_before(text: str, width: int) -> None:
    assert wrap(text, width) == _stdlib_lines(text, width)


def test_many_seeded_random_texts_wrap_as_textwrap_does() -> None:
    rng = random.Random(23)
    pieces = ["a", "ab", "word", "-", "x" * 30, "→", "中文", " ", "  ", "   ", "\t", "\xa0"]
    checked = 0
    for _ in range(4000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 40)))
        width = rng.randrange(1, 60)
        initial, subsequent = ("", "") if width <= 2 else (rng.choice(["", "- "]), "  ")
        assert wrap_paragraph(text, width, initial, subsequent) == _stdlib(
            text, width, initial, subsequent
        ), (text, width, initial, subsequent)
        checked += 1
    assert checked == 4000


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        # a long word after spaces that fill the line exactly: textwrap keeps those spaces
        ("abc  defghij", 5, ["abc  ", "defgh", "ij"]),
        # a long word after spaces that do not fill it: the spaces are dropped
        ("abc defghij", 5, ["abc d", "efghi", "j"]),
        # leading spaces longer than a line: line-long pieces of them are dropped, the rest
        # stays in front of the first word
        (" " * 7 + "ab", 3, [" ab"]),
        ("", 10, []),
        ("   ", 10, []),
        ("  lead", 10, ["  lead"]),
        ("trail   ", 10, ["trail"]),
    ],
)
def test_edge_cases_by_value(text: str, width: int, expected: list[str]) -> None:
    assert _stdlib(text, width) == expected  # what textwrap does, written out
    assert wrap_paragraph(text, width) == expected


def test_a_width_no_wider_than_the_indent_is_textwraps_too() -> None:
    assert wrap_paragraph("abc def", 2, "- ", "  ") == _stdlib("abc def", 2, "- ", "  ")
    with pytest.raises(ValueError, match="invalid width"):
        wrap_paragraph("abc", 0)
