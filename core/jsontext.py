"""Compact JSON text, written by orjson: request bodies to the model and every stored event and
outbox row pass through here, so it is on the hot path of each step.

The text is what `json.dumps(value, separators=(",", ":"), ensure_ascii=False)` writes, except
that a float may be spelt differently (`1e-7` for `1e-07`; it reads back the same) and NaN and
infinities become `null` (the stdlib writes `NaN`, which no JSON parser reads).
orjson refuses integers beyond 64 bits, which a model's tool input may hold: those values take
the stdlib's path instead of failing the step.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    """Raises TypeError or ValueError for a value that is not JSON."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        pass
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
