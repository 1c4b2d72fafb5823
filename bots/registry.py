"""Every adapter the bot knows, one line each. A new platform is a package under ``bots/`` with
an ``ADAPTER`` (a :class:`shared.port.AdapterPlugin`), and its line here."""

from __future__ import annotations

import importlib

from shared import platforms
from shared.port import AdapterPlugin

ADAPTERS = [
    "bots.discord",
    "bots.slack",
    "bots.console",
]

_extra: list[AdapterPlugin] = []


def register(plugin: AdapterPlugin) -> None:
    """Add an adapter at run time (tests, extensions) as if it had a line above."""
    _extra[:] = [p for p in _extra if p.name != plugin.name]
    _extra.append(plugin)
    platforms.register(plugin.name, plugin.label)


def unregister(name: str) -> None:
    _extra[:] = [p for p in _extra if p.name != name]


def plugins() -> list[AdapterPlugin]:
    """The known adapters, their labels registered with the core."""
    found = [importlib.import_module(path).ADAPTER for path in ADAPTERS]
    for plugin in found:
        platforms.register(plugin.name, plugin.label)
    return [*found, *_extra]


def plugin(name: str) -> AdapterPlugin:
    for candidate in plugins():
        if candidate.name == name:
            return candidate
    raise KeyError(name)
