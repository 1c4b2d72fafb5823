"""The handlers of the core's commands, one module per feature; importing this registers them."""

from shared.handlers import accounts, feedback, insights, organizers, prefs, privacy, schedule, seats

__all__ = ["accounts", "feedback", "insights", "organizers", "prefs", "privacy", "schedule", "seats"]
