"""Redact known secret values and common credential shapes from any text that leaves the
integrations (results, Degraded reasons, logs)."""

from __future__ import annotations

import base64
import dataclasses
import re
import threading
from typing import Any

from core.secret import Secret

# Values shorter than this are not registered: scrubbing "abc" everywhere would mangle output
# and such values are not secrets worth the name. Token shapes below still apply.
MIN_SECRET_LENGTH = 6

_SHAPES: list[tuple[str, re.Pattern[str]]] = [
    (
        "pem",
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
            re.S,
        ),
    ),
    ("slack-token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{8,}|\bxapp-[A-Za-z0-9-]{8,}")),
    ("vault-token", re.compile(r"\bhv[sbr]\.[A-Za-z0-9_-]{20,}|\bs\.[A-Za-z0-9]{24}\b")),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")),
    ("aws-access-key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("anthropic-key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{16,}")),
    ("bearer", re.compile(r"(?i)(?<=bearer )[A-Za-z0-9._~+/-]{8,}=*")),
    ("url-password", re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)")),
]
_PAIR = re.compile(
    r"(?i)\b(password|passwd|pwd|secret|client_secret|token|api[_-]?key|access[_-]?key|"
    r"secret[_-]?key|private[_-]?key|auth[_-]?token|authorization)"
    r"(\"?\s*[=:]\s*\"?)"
    r"(?!\[redacted:)([^\s\"',;&]{3,})"
)


class Scrubber:
    """One per process, passed in explicitly. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, str] = {}  # value -> name
        self._pattern: re.Pattern[str] | None = None

    def register(self, name: str, value: str | Secret) -> None:
        raw = value.reveal() if isinstance(value, Secret) else value
        if not isinstance(raw, str) or len(raw) < MIN_SECRET_LENGTH:
            return
        variants = {raw, base64.b64encode(raw.encode()).decode().rstrip("=")}
        with self._lock:
            for v in variants:
                self._values.setdefault(v, name)
            # longest first, so a value that contains another is replaced whole
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))

    def __contains__(self, value: str) -> bool:
        with self._lock:
            return value in self._values

    def scrub(self, text: str) -> str:
        with self._lock:
            pattern, values = self._pattern, dict(self._values)
        if pattern is not None:
            text = pattern.sub(lambda m: f"[redacted:{values[m.group(0)]}]", text)
        for name, shape in _SHAPES:
            text = shape.sub(f"[redacted:{name}]", text)
        return _PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted:{m.group(1).lower()}]", text)

    def scrub_obj(self, obj: Any) -> Any:
        """Deep copy of dicts/lists/tuples/dataclasses with every string (keys too) scrubbed. `Secret`s are
        left as they are: they already print only their name."""
        if isinstance(obj, str):
            return self.scrub(obj)
        if isinstance(obj, dict):
            return {self.scrub_obj(k): self.scrub_obj(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.scrub_obj(v) for v in obj]
        if isinstance(obj, tuple):
            return tuple(self.scrub_obj(v) for v in obj)
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            changes = {
                f.name: self.scrub_obj(getattr(obj, f.name)) for f in dataclasses.fields(obj)
            }
            return dataclasses.replace(obj, **changes)
        return obj
