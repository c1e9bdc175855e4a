"""Errors of the Slack front door (all `SteadfastError`s; the CLI prints them and exits 1).

SteadfastError
└── SlackError
    ├── SlackConfigError   a token or secret the chosen mode needs is missing
    └── UsageError         a `/steadfast` command the bot cannot parse (shown to the user)
"""

from __future__ import annotations

from bot.errors import SteadfastError


class SlackError(SteadfastError):
    pass


class SlackConfigError(SlackError):
    pass


class UsageError(SlackError):
    pass
