"""The forms a known secret value can take after a transform the policy allows, as regex
fragments for the scrubber to match (it compiles them case-insensitively).

Covered: the raw value with any short run of separators inserted between its letters and
digits or its own punctuation removed (`tr -d -`, spacing out, a JSON array of characters,
line wrapping), its rot13 (`tr a-z n-za-m`, `tr A-Za-z N-ZA-Mn-za-m`) in the same tolerant
shape, base64 and base64url at every byte offset (so the value is found inside the encoding of
a longer line, as `jq -R @base64` produces), hex, URL escaping and JSON escaping; case is
ignored throughout (`tr a-z A-Z`, `ascii_upcase`).

Not covered, and why that is acceptable: an arbitrary letter map (`tr a-z b-za`), arithmetic on
code points (`jq explode`), or a slice of the value shorter than the whole. Those are reversible
by the model only if it sees the producer's raw output first, and the runner scrubs each
producer's output before any filter stage runs, so filters only ever see redacted text.
"""

from __future__ import annotations

import base64
import codecs
import json
import re
from urllib.parse import quote

# Between two characters of a value: up to this many characters that are neither letters
# nor digits (spaces, dashes, quotes, commas, newlines, JSON array punctuation).
_GAP = r"[\W_]{0,16}"
# Values with fewer letters and digits than this are matched exactly (case-insensitively):
# a tolerant pattern over a short value would redact ordinary words.
MIN_TOLERANT = 8
# Base64 fragments shorter than this are not worth matching (they recur by chance).
_MIN_B64 = 8


def rot13(text: str) -> str:
    return codecs.encode(text, "rot13")


def _tolerant(text: str) -> str | None:
    """`text`'s letters and digits with any short separator run between them."""
    alnum = [c for c in text if c.isalnum()]
    if len(alnum) < MIN_TOLERANT:
        return None
    return _GAP.join(re.escape(c) for c in alnum)


def _b64_fragments(raw: bytes) -> set[str]:
    """The part of base64(prefix + raw) that depends only on `raw`, for prefixes of 0, 1 and 2
    bytes: every way the value can be aligned inside a longer encoded text."""
    out: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        start = -(-offset * 8 // 6)  # first character not touched by the prefix
        end = (offset + len(raw)) * 8 // 6  # last character fully made of the value
        fragment = encoded[start:end]
        if len(fragment) >= _MIN_B64:
            out.add(fragment)
    return out


def _b64_pattern(fragment: str) -> str:
    # one pattern for both alphabets; whitespace may wrap the encoding
    chars = []
    for c in fragment:
        chars.append({"+": "[+-]", "/": "[/_]"}.get(c, re.escape(c)))
    return r"\s?".join(chars)


def patterns(value: str) -> list[str]:
    """Regex fragments matching `value` in every covered form, longest first."""
    found: set[str] = {re.escape(value)}
    for text in (value, rot13(value)):
        tolerant = _tolerant(text)
        found.add(tolerant if tolerant else re.escape(text))
    raw = value.encode()
    found.update(_b64_pattern(f) for f in _b64_fragments(raw))
    hexed = raw.hex()
    if len(hexed) >= MIN_TOLERANT:
        found.add(
            r"(?:\\x|[^0-9a-f]{0,3})".join(
                re.escape(hexed[i : i + 2]) for i in range(0, len(hexed), 2)
            )
        )
    for escaped in (
        quote(value, safe=""),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
    ):
        found.add(re.escape(escaped))
    return sorted(found, key=len, reverse=True)
