"""Roundtable's platform-neutral core: program, registrations, reminders, insights, storage."""
