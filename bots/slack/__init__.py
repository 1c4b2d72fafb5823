"""The Slack adapter: slash commands, buttons, the insight modal, App Home, DMs and theme posts.

Typical use by the runner::

    adapter = SlackAdapter(core)   # reads core.settings; raises SlackConfigError on bad settings
    await adapter.connect()        # Socket Mode, or HTTP on $PORT when SLACK_MODE=http
    ...
    await adapter.close()
"""

from bots.slack.adapter import EVENTS_PATH, SlackAdapter, SlackConfigError

__all__ = ["EVENTS_PATH", "SlackAdapter", "SlackConfigError"]
