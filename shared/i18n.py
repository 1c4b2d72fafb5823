"""The bot's languages: gettext catalogs (``shared/locale``), one locale per reader.

Every word the bot writes goes through :func:`_` (or :func:`ngettext`), which translates into
the locale bound with :func:`using` for the reply or DM being built. Placeholders are named
and filled after translation, so translators can move them: ``_("{title} has moved", title=…)``.

Catalogs: ``shared/locale/<lang>/LC_MESSAGES/messages.po``, compiled to ``.mo`` when the
package is built (``setup.py``). After adding or changing wording, one line updates them::

    pybabel extract -F babel.cfg -o shared/locale/messages.pot --no-location --omit-header . && \
    pybabel update -i shared/locale/messages.pot -d shared/locale --ignore-obsolete -w 110

then translate the new entries; the build (or the test run) compiles them.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
DEFAULT = "en"
SUPPORTED = ("en", "fr", "es")
NAMES = {"en": "English", "fr": "Français", "es": "Español"}

_current: ContextVar[str] = ContextVar("roundtable_locale", default=DEFAULT)


def negotiate(tag: str | None) -> str:
    """One of :data:`SUPPORTED` for a platform's locale tag (``fr-FR``, ``es_419``, ``fr``);
    English when there is no catalog for it."""
    if not tag:
        return DEFAULT
    language = tag.replace("_", "-").split("-")[0].strip().lower()
    return language if language in SUPPORTED else DEFAULT


def known(tag: str) -> str | None:
    """The supported language someone typed (``fr``, ``FR``, ``fr-CA``), or ``None``."""
    language = tag.replace("_", "-").split("-")[0].strip().lower()
    return language if language in SUPPORTED else None


@cache
def translations(locale: str) -> gettext.NullTranslations:
    if locale == DEFAULT:
        return NullTranslations()
    # a missing .mo (a source tree never built) falls back to English rather than failing
    return Translations.load(str(LOCALE_DIR), [locale], DOMAIN)


def language_name(code: str) -> str:
    """A language's name in the reader's language, as written mid-sentence ("French",
    "français", "francés")."""
    from babel import Locale

    return Locale.parse(current()).languages.get(code, NAMES.get(code, code))


def current() -> str:
    return _current.get()


@contextmanager
def using(locale: str | None) -> Iterator[str]:
    """Build what follows in ``locale`` (negotiated: unknown tags give English)."""
    chosen = negotiate(locale)
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


def _(message: str, /, **values: object) -> str:
    """``message`` in the current locale, its ``{placeholders}`` filled with ``values``."""
    text = translations(_current.get()).gettext(message)
    return text.format(**values) if values else text


def N_(message: str, /) -> str:
    """Marks a message for the catalogs where it is written; translated later with :func:`_`."""
    return message


def ngettext(singular: str, plural: str, n: int, /, **values: object) -> str:
    """The singular or plural form for ``n`` in the current locale; ``{n}`` is filled too."""
    text = translations(_current.get()).ngettext(singular, plural, n)
    return text.format(n=n, **values)


def in_each(message: str) -> dict[str, str]:
    """``message`` in every supported language but English (e.g. for command descriptions)."""
    out = {}
    for locale in SUPPORTED:
        if locale != DEFAULT:
            with using(locale):
                out[locale] = _(message)
    return out
