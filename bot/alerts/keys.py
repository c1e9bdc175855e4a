"""The names an alert's job and its Slack thread are found by: one constructor each, so the
intake, the notifier and the worker agree on them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from bot.model import Job, OutboxMessage, outbox_key

ALERT_KEY_PREFIX = "alertmanager:"


def alert_job_key(fingerprint: str, starts_at: str) -> str:
    """Idempotency key of the job an alert starts. Alertmanager resends a group every
    `repeat_interval` with the same fingerprint and `startsAt`: the same job. The same alert
    firing again later has a new `startsAt`: a new investigation."""
    return f"{ALERT_KEY_PREFIX}{fingerprint}:{starts_at}"


def is_alert_job(job: Job) -> bool:
    return (job.idempotency_key or "").startswith(ALERT_KEY_PREFIX)


def alert_root_key(job_id: str) -> str:
    """Outbox key of the message that opens an alert job's thread (its ts is the thread)."""
    return outbox_key(job_id, "alert")


class _Threads(Protocol):
    def attach_thread(self, job_id: str, thread_ts: str) -> bool: ...


def alert_thread_recorder(store: _Threads) -> Callable[[OutboxMessage, str], None]:
    """The outbox's `on_sent` hook: once the message opening an alert job's thread is posted,
    its ts becomes the job's thread, so replies there reach the job (answers, follow-ups) like
    replies under a mention."""

    def record(row: OutboxMessage, ts: str) -> None:
        if row.job_id is not None and row.key == alert_root_key(row.job_id):
            store.attach_thread(row.job_id, ts)

    return record
