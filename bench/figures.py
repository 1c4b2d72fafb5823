"""What a benchmark module reports, and the options every module gets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Options:
    quick: bool = False
    database_url: str | None = None  # a PostgreSQL URL adds the PostgreSQL figures
    drill: bool = False  # the long fault drills (kills, outages)


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure; ``key`` names it in ``--json``; ``baseline`` is the raw ceiling for
    the same work, measured in the same run (its own key in ``--json`` when ``baseline_key`` is set)."""

    key: str
    label: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_key: str | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline  # type: ignore[operator]
