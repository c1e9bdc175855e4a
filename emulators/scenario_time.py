"""Relative times in scenario files: "${now}" and "${now-45m}" (units s, m, h, d) become UTC
RFC 3339 timestamps when an emulator loads its section, so ages and log windows stay realistic."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

_NOW = re.compile(r"\$\{now(?:-(\d+)([smhd]))?\}")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def resolve_times(obj: Any, now: datetime | None = None) -> Any:
    now = now or datetime.now(UTC).replace(microsecond=0)

    def stamp(m: re.Match[str]) -> str:
        delta = timedelta(**{_UNITS[m.group(2)]: int(m.group(1))}) if m.group(1) else timedelta()
        return (now - delta).strftime("%Y-%m-%dT%H:%M:%SZ")

    if isinstance(obj, str):
        return _NOW.sub(stamp, obj)
    if isinstance(obj, dict):
        return {k: resolve_times(v, now) for k, v in obj.items()}
    if isinstance(obj, list):
        return [resolve_times(v, now) for v in obj]
    return obj
