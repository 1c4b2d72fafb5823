"""The terminal adapter: one person chatting with the bot, one command a line."""
