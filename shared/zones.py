"""Time zones people can choose: IANA names, checked and suggested."""

from __future__ import annotations

import difflib
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

EXAMPLE = "America/Bogota"


@cache
def names() -> tuple[str, ...]:
    """Every IANA zone name tzdata knows, sorted; the legacy aliases (``US/…``, ``Etc/…``) last."""
    every = available_timezones()
    proper = sorted(n for n in every if "/" in n and not n.startswith(("Etc/", "SystemV/", "US/")))
    return (*proper, *sorted(every - set(proper)))


def canonical(name: str) -> str | None:
    """The zone as tzdata spells it (``america/bogota`` → ``America/Bogota``), or ``None``."""
    name = name.strip().replace(" ", "_")
    if not name:
        return None
    by_fold = {n.casefold(): n for n in names()}
    found = by_fold.get(name.casefold())
    if found is None:
        return None
    try:
        ZoneInfo(found)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return found


def suggestions(typed: str, first: tuple[str, ...] = (), limit: int = 25) -> list[str]:
    """Zones matching what someone typed, the event's own ``first``; close misspellings too."""
    typed = typed.strip().replace(" ", "_").casefold()
    pool = list(dict.fromkeys((*first, *names())))
    if not typed:
        return pool[:limit]
    hits = [n for n in pool if typed in n.casefold()]
    if len(hits) < limit:
        lowered = {n.casefold(): n for n in names()}
        close = difflib.get_close_matches(typed, list(lowered), n=limit, cutoff=0.6)
        hits += [lowered[c] for c in close if lowered[c] not in hits]
    return hits[:limit]
