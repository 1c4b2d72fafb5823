"""The handlers of the core's commands, one module per feature; importing this registers them."""

from shared.handlers import accounts, insights, organizers, prefs, schedule, seats

__all__ = ["accounts", "insights", "organizers", "prefs", "schedule", "seats"]
