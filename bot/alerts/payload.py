"""Alertmanager's webhook body (`version: "4"`), validated, and the ticket text built from it.

Everything in an alert is untrusted input, like a Slack mention: whoever can write a Prometheus
rule or post to Alertmanager chooses the labels and annotations. Each field is cut to a size,
the whole ticket to `MAX_TICKET_CHARS`, and secrets are scrubbed before the text is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.model import MAX_TICKET_CHARS

MAX_ALERTS = 1000  # Alertmanager's `max_alerts` is unlimited by default; a group is not
MAX_LABELS = 40
MAX_LABEL_CHARS = 256
MAX_SUMMARY_CHARS = 500
MAX_DESCRIPTION_CHARS = 4000
ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time: the alert has no end yet


class _Body(BaseModel):
    # unknown fields are ignored: Alertmanager adds fields within a version
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


def _timestamp(value: str) -> str:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not an RFC 3339 time: {value[:40]!r}") from exc
    return value


class Alert(_Body):
    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(max_length=500)
    annotations: dict[str, str] = Field(default_factory=dict, max_length=500)
    starts_at: str = Field(alias="startsAt", min_length=1, max_length=64)
    ends_at: str = Field(ZERO_TIME, alias="endsAt", max_length=64)
    generator_url: str = Field("", alias="generatorURL", max_length=4096)
    fingerprint: str = Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z]+$")

    _times = field_validator("starts_at", "ends_at")(_timestamp)

    @property
    def name(self) -> str:
        return clip(self.labels.get("alertname") or "unnamed alert", MAX_LABEL_CHARS)

    @property
    def summary(self) -> str:
        text = self.annotations.get("summary") or self.annotations.get("message") or ""
        return clip(" ".join(text.split()), MAX_SUMMARY_CHARS)

    @property
    def ended(self) -> str | None:
        return None if self.ends_at == ZERO_TIME else self.ends_at


class Notification(_Body):
    version: Literal["4"]
    status: Literal["firing", "resolved"]
    receiver: str = Field("", max_length=256)
    group_key: str = Field("", alias="groupKey", max_length=4096)
    truncated_alerts: int = Field(0, alias="truncatedAlerts", ge=0)
    group_labels: dict[str, str] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[str, str] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[str, str] = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field("", alias="externalURL", max_length=4096)
    alerts: list[Alert] = Field(max_length=MAX_ALERTS)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def label_line(labels: dict[str, str]) -> str:
    shown = sorted(labels.items())[:MAX_LABELS]
    parts = [f'{clip(k, 64)}="{clip(v, MAX_LABEL_CHARS)}"' for k, v in shown]
    more = f" (+{len(labels) - MAX_LABELS} more)" if len(labels) > MAX_LABELS else ""
    return ", ".join(parts) + more


def ticket_text(alert: Alert, scrub: Callable[[str], str]) -> str:
    """What the investigation is asked: the alert as Alertmanager described it."""
    lines = [f"Alertmanager alert {alert.name} is firing since {alert.starts_at}."]
    if alert.summary:
        lines.append(f"Summary: {alert.summary}")
    description = alert.annotations.get("description", "").strip()
    if description:
        lines.append(f"Description: {clip(description, MAX_DESCRIPTION_CHARS)}")
    lines.append(f"Labels: {label_line(alert.labels)}")
    if alert.generator_url:
        lines.append(f"Source: {clip(alert.generator_url, 512)}")
    lines.append(
        "Investigate why this alert fires (the labels above name where to look) and hand off "
        "what you found."
    )
    return clip(scrub("\n".join(lines)), MAX_TICKET_CHARS)
