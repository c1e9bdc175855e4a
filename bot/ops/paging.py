"""`steadfast doctor`'s paging row: every pager the policy's escalation routes name has a key
in the settings, and no page failed for good in the last day. It sends nothing: a test event
to PagerDuty or Opsgenie would page a human."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.errors import ConfigError
from bot.settings import Settings
from bot.wiring import paging_keys
from integrations.health import Health
from policy.document import Policy

RECENT = timedelta(hours=24)


def paging_check(settings: Settings, policy: Policy) -> Health:
    targets = [(route.channel, t) for route in policy.escalation.routes for t in route.pages]
    if not targets:
        return Health("paging", True, None, "none", "not configured (skipped): no route pages")
    try:
        keys = paging_keys(settings)
    except ConfigError as exc:
        return Health("paging", False, None, "none", str(exc))
    missing = [
        f"route {channel} pages {t.service} with key {t.key!r}"
        for channel, t in targets
        if t.key not in keys
    ]
    if missing:
        detail = (
            "; ".join(missing)
            + ": the settings hold no key by that name; add it to STEADFAST_PAGING_KEYS or as a "
            "file in STEADFAST_PAGING_KEYS_DIR"
        )
        return Health("paging", False, None, "none", detail)
    auth = f"{len(targets)} pager(s), keys by name"
    failed = _failed_pages(settings)
    if failed:
        return Health("paging", True, None, auth, failed, degraded=True)
    return Health("paging", True, None, auth, "ok (nothing sent: a test page would wake someone)")


def _failed_pages(settings: Settings) -> str | None:
    """The last day's pages that failed for good, or None. A database problem is the database
    row's to report, not this one's."""
    from bot.store.store import Store  # sqlalchemy loads only here

    try:
        store = Store(settings.database_url, pool_size=1)
    except Exception:
        return None
    try:
        rows = store.outbox_failed_since("page", datetime.now(UTC) - RECENT)
    except Exception:
        return None
    finally:
        store.close()
    if not rows:
        return None
    return (
        f"{len(rows)} page(s) failed for good in the last 24 h (not retried); the latest: "
        f"{rows[0].key}: {rows[0].last_error}; see `steadfast replay JOB` for its `paged` event"
    )
