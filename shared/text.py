"""Text hygiene: the one function every piece of people's text goes through before it is stored.

Names, insights, announcements and answers all pass :func:`clean`. It keeps what people
write in any script (ZWJ/ZWNJ, emoji sequences, combining marks) and drops what can only
mislead or break a reader: control characters other than newline and tab, NUL, the bidi
overrides and isolates that reorder text on screen, and Unicode noncharacters.
"""

from __future__ import annotations

import re
import unicodedata

# bidi embeddings/overrides (U+202A–202E) and isolates (U+2066–2069): they make text read
# backwards on screen, e.g. a link that looks like another
BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))

# zero-width spaces, word joiner and BOM: invisible, they make empty text look full or hide words
INVISIBLE = frozenset("\u200b\u2060\ufeff")


def _noncharacter(code: int) -> bool:
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def _dropped(ch: str) -> bool:
    if ch in BIDI_CONTROLS or ch in INVISIBLE:
        return True
    code = ord(ch)
    if _noncharacter(code):
        return True
    category = unicodedata.category(ch)
    # Cc: C0/C1 controls (NUL, ESC, DEL…); Cs: lone surrogates, which no encoder accepts
    return category in ("Cc", "Cs")


def clean(text: str | None, *, single_line: bool = False) -> str:
    """People's text made safe to store and show: NFC, no hidden controls, tidy whitespace.

    Newline and tab survive (as line breaks and a space); with ``single_line`` they become
    spaces too. Format characters that carry meaning (ZWJ, ZWNJ, variation selectors) stay.
    """
    text = unicodedata.normalize("NFC", text or "")
    kept = []
    for ch in text:
        if ch in "\r\n\t\v\f\x85\u2028\u2029":
            kept.append(" " if single_line or ch == "\t" else ("\n" if ch != "\r" else ""))
        elif not _dropped(ch):
            kept.append(ch)
    text = "".join(kept)
    text = re.sub(r"[ \u00a0]{2,}", " ", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    # NFC again: dropping a character can bring a base and its combining mark together
    text = unicodedata.normalize("NFC", text)
    return "\n".join(line.strip() for line in text.strip().split("\n"))


def clean_name(name: str | None, limit: int = 80) -> str:
    """A display name: one line, cleaned, at most ``limit`` characters."""
    if name and name.isascii() and name.isprintable() and "  " not in name:
        # the usual name (read on every registration): nothing to normalise, drop or fold
        return name.strip()[:limit].strip()
    return clean(name, single_line=True)[:limit].strip()
