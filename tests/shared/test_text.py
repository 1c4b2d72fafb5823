"""The one text-hygiene function (issue 11): what it drops, what it must keep."""

from __future__ import annotations

import unicodedata

import pytest

from shared import insights, text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a\x00b", "ab"),
        ("evil\u202etxt.exe", "eviltxt.exe"),
        ("\u2066isolated\u2069 \u202aembedded\u202c \u202doverride\u202c", "isolated embedded override"),
        ("bell\x07 esc\x1b[31m del\x7f c1\x9b", "bell esc[31m del c1"),
        ("non\ufdd0char\uffff\U0001fffe", "nonchar"),
        ("zero\u200bwidth", "zerowidth"),
        ("line one\nline two\ttab", "line one\nline two tab"),
        ("crlf\r\nline", "crlf\nline"),
    ],
)
def test_clean_drops_what_misleads(raw: str, expected: str) -> None:
    assert text.clean(raw) == expected


@pytest.mark.parametrize(
    "kept",
    [
        "می‌خواهم",  # Persian with ZWNJ
        "👩‍💻",  # woman technologist: a ZWJ sequence
        "👨‍👩‍👧‍👦",
        "🏳️‍🌈",  # with a variation selector
        "👍🏽",  # skin tone modifier
        "🇫🇷",  # regional indicators
        "मनुष्य",  # Devanagari with a virama
        "שלום עולם",  # Hebrew, right to left on its own
    ],
)
def test_clean_keeps_what_people_write(kept: str) -> None:
    assert text.clean(kept) == unicodedata.normalize("NFC", kept)


def test_clean_normalises_to_nfc() -> None:
    assert text.clean("Cafe\u0301") == "Café"
    # a dropped control between a letter and its mark still yields the composed letter
    assert text.clean("e\x00\u0301") == "é"


def test_single_line_folds_breaks() -> None:
    assert text.clean("a\nb\tc\u2028d", single_line=True) == "a b c d"
    assert text.clean_name("  Ann\u202e\nB  ", 80) == "Ann B"


def test_insights_use_the_one_function() -> None:
    assert insights.clean_text("👩‍💻 a\u202eb\x00") == "👩‍💻 ab"
