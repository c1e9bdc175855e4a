"""`alert_routes`: which Alertmanager alerts Steadfast investigates, for which tenant, and in
which Slack channel the investigation's thread opens.

Matchers use Alertmanager's own syntax (`label="value"`, `label!="value"`, `label=~"regex"`,
`label!~"regex"`), so a route can be copied from `alertmanager.yml`. As in Alertmanager, a
regex matches the whole value (it is anchored) and a missing label matches as the empty string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from policy.rules import check_regexes

Op = Literal["=", "!=", "=~", "!~"]

_MATCHER = re.compile(
    r"""^\s*(?P<label>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op>=~|!~|!=|=)\s*
        (?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^"\s,{}]*))\s*$""",
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Matcher:
    label: str
    op: Op
    value: str

    @classmethod
    def parse(cls, text: str) -> Matcher:
        found = _MATCHER.match(text)
        if found is None:
            raise ValueError(
                f"matcher {text!r} is not in Alertmanager's form, e.g. 'severity=\"critical\"' "
                "or 'namespace=~\"acme-.*\"' (operators =, !=, =~, !~)"
            )
        quoted = found.group("quoted")
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else found.group("bare") or ""
        op: Op = found.group("op")  # type: ignore[assignment]
        if op in ("=~", "!~"):
            check_regexes([value])
        return cls(found.group("label"), op, value)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        hit = re.fullmatch(self.value, actual) is not None
        return hit if self.op == "=~" else not hit


class AlertRoute(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    matchers: list[str] = Field(
        default_factory=list,
        description="Alertmanager-style label matchers, all must match; empty: every alert "
        "(a catch-all route, put it last)",
    )
    channel: str = Field(description="Slack channel id where the investigation's thread opens")
    tenant: str | None = Field(
        default=None, description="tenant the job runs for; unset: the tenant of `channel`"
    )
    max_alerts_per_group: int = Field(
        default=5,
        ge=1,
        le=100,
        description="investigations one Alertmanager notification may start on this route; "
        "the rest are listed in the first one's thread",
    )

    @field_validator("matchers")
    @classmethod
    def _parse(cls, value: list[str]) -> list[str]:
        for text in value:
            Matcher.parse(text)
        return value

    def parsed(self) -> list[Matcher]:
        return [Matcher.parse(text) for text in self.matchers]

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.parsed())


def route_for(routes: list[AlertRoute], labels: Mapping[str, str]) -> AlertRoute | None:
    """The first route whose matchers all match (as in Alertmanager's routing tree, first
    match wins); None: the alert is not routed and no investigation starts."""
    return next((route for route in routes if route.matches(labels)), None)
