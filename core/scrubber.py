"""Redact secrets from any text that leaves a component: command output at its source, tool
results, model requests, events, Slack posts, log records, `Degraded` reasons.

Two halves, applied to the same text in one pass so one never hides the other from the next:
- known values (registered by the integrations that read them, and every value a detector has
  found before) in each form a filter can give them (`core.forms`);
- detectors for secrets nobody registered (`core.detectors`).
Every hit is a span of the original text; overlapping spans merge and each becomes
`[redacted:NAME]`. Scrubbing is idempotent.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from typing import Any

from core import forms
from core.detectors import Detectors, Hit
from core.secret import Secret

# Values shorter than this are not registered: scrubbing "abc" everywhere would mangle output
# and such values are not secrets worth the name. Token shapes still apply.
MIN_SECRET_LENGTH = 6
# Values learned from detector hits; beyond this the oldest are kept and new ones only redacted
# where detected, so a flood of fake tokens cannot make every scrub slower.
MAX_LEARNED = 256
_REDACTED = re.compile(r"\[redacted:[^\]]*\]")
# Texts up to this long are remembered with their scrubbed form: keys, tool names and small
# values recur on every step of every job, and each scrub runs every detector over six
# variants of the text. At most MEMO_ENTRIES are kept (then the memo starts over).
MEMO_CHARS = 1024
MEMO_ENTRIES = 4096


class Scrubber:
    """One per process, passed in explicitly. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, str] = {}  # value -> name
        self._learned = 0
        self._patterns: dict[str, tuple[re.Pattern[str], str]] = {}  # value -> (forms, name)
        self._detectors = Detectors()
        # valid only for the known values it was computed under: every added value empties it
        self._memo: dict[str, str] = {}
        self._generation = 0

    def register(self, name: str, value: str | Secret) -> None:
        raw = value.reveal() if isinstance(value, Secret) else value
        if isinstance(raw, str):
            with self._lock:
                self._add(name, raw)

    def _add(self, name: str, raw: str) -> bool:
        raw = raw.strip()
        if len(raw) < MIN_SECRET_LENGTH or raw in self._values or _REDACTED.search(raw):
            return False
        self._values[raw] = name
        self._generation += 1
        self._memo.clear()
        return True

    def __contains__(self, value: str) -> bool:
        with self._lock:
            return value in self._values

    def _compiled(self) -> list[tuple[re.Pattern[str], str]]:
        # one pattern per value, compiled once: learning a value mid-run must not recompile
        # every other (a single alternation of hundreds of values took seconds to build)
        with self._lock:
            for value, name in self._values.items():
                if value not in self._patterns:
                    joined = "|".join(forms.patterns(value))  # longest form first
                    self._patterns[value] = (re.compile(joined, re.IGNORECASE), name)
            return list(self._patterns.values())

    def scrub(self, text: str) -> str:
        if not text:
            return text
        remembered = self._memo.get(text)
        if remembered is not None:
            return remembered
        generation = self._generation
        hits = self._detectors.find(text)
        self._learn(text, hits)
        for pattern, name in self._compiled():
            hits += [Hit(m.start(), m.end(), name, known=True) for m in pattern.finditer(text)]
        scrubbed = _replace(text, hits)
        if len(text) <= MEMO_CHARS:
            with self._lock:
                # not when a value was added meanwhile (by this text or another thread): the
                # result may predate it
                if self._generation == generation:
                    if len(self._memo) >= MEMO_ENTRIES:
                        self._memo.clear()
                    self._memo[text] = scrubbed
        return scrubbed

    def _learn(self, text: str, hits: list[Hit]) -> None:
        """Remember what detectors found, so its encoded forms are caught wherever it goes next
        (a value seen raw in one tool result and base64-encoded in the next)."""
        if not hits:
            return
        with self._lock:
            for hit in hits:
                if self._learned >= MAX_LEARNED:
                    return
                value = text[hit.start : hit.end]
                if hit.kind.startswith("pem") or hit.kind.startswith("gcp-private"):
                    # a key's body lines, each on its own: a filter may show any one of them
                    parts = [p for p in re.split(r"\\n|\s|-----", value) if len(p) >= 16]
                elif hit.kind.startswith("encoded-"):
                    parts = []  # the raw value is learned when the decoded text is scrubbed
                else:
                    parts = [value]
                for part in parts[:64]:
                    if self._add(hit.kind, part):
                        self._learned += 1

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


def _replace(text: str, hits: list[Hit]) -> str:
    """Replace merged spans; an existing `[redacted:…]` marker is never cut in half."""
    if not hits:
        return text
    keep = [m.span() for m in _REDACTED.finditer(text)]
    spans: list[list[Any]] = []
    for hit in sorted(hits, key=lambda h: (h.start, -h.end, not h.known)):
        start, end = hit.start, hit.end
        for k_start, k_end in keep:  # widen to whole markers
            if k_start < end and start < k_end:
                start, end = min(start, k_start), max(end, k_end)
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end, hit.kind])
    out, last = [], 0
    for start, end, kind in spans:
        out.append(text[last:start])
        inside = _REDACTED.fullmatch(text[start:end])
        out.append(inside.group(0) if inside else f"[redacted:{kind}]")
        last = end
    out.append(text[last:])
    return "".join(out)
