"""The names people see for the platforms, as the adapters declare them.

The core stores a platform by the adapter's name (``identities.platform``) and shows it by
label ("via …", rosters). Adapters register their label; an unknown name is shown title-cased.
"""

from __future__ import annotations

from shared.i18n import N_, _

_labels: dict[str, str] = {}


def register(name: str, label: str) -> None:
    _labels[name] = label


def label(name: str) -> str:
    return _labels.get(name) or name.title()


AND, OR = N_("and"), N_("or")


def join(labels: list[str], word: str = AND) -> str:
    """``A``, ``A and B``, ``A, B and C`` (the word in the reader's language)."""
    if len(labels) <= 1:
        return "".join(labels)
    return f"{', '.join(labels[:-1])} {_(word)} {labels[-1]}"
