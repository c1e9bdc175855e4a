"""Credential refreshes as something the caller can see. An integration that renews or re-reads
its credentials tells an optional observer (dependency, what happened); the worker turns that
into a `token_refreshed` event, so a replay shows when a job ran across a token rotation.
Integrations know nothing of jobs or events: the observer is a plain callable passed in."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

RefreshObserver = Callable[[str, str], None]
"""Called as `observer(dependency, what)`, e.g. ("vault", "re-login: token rejected"). Never
given a secret."""


def notify(observer: RefreshObserver | None, dependency: str, what: str) -> None:
    log.info("%s: %s", dependency, what)
    if observer is None:
        return
    try:
        observer(dependency, what)
    except Exception:  # an observer's failure must not fail the call it watches
        log.exception("refresh observer failed for %s", dependency)
