"""Pagers: PagerDuty (Events API v2) and Opsgenie (Alert API) through httpx.

`Pager.send(page)` delivers one `Page` (trigger or resolve) and returns the pager's answer,
or raises the package's errors: `Unavailable` (429, 5xx, network; `retry_after` set from the
server's header) is worth trying later, `BadRequest` (400/422: the pager refused the event)
and `AuthError` (401/403: the key is wrong) are not. Keys are `SecretStr`s looked up by name
at the moment of the call; they appear in no return value, message or exception.
"""

from integrations.paging.pager import Page, Pager, PagingConfig, Sent

__all__ = ["Page", "Pager", "PagingConfig", "Sent"]
