"""The names an alert's job and its Slack thread are found by: one constructor each, so the
intake, the notifier and the worker agree on them."""

from __future__ import annotations

from bot.model import Job, outbox_key

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
