"""The one JSON encoder for request bodies and stored rows: the stdlib's compact text, fast,
and never failing on a value the stdlib can write."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from core import jsontext


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, 2.5, "é", None, True], "b": {"c": "\u2028\x00"}},
        {"limit": 10**30, "nested": [{"n": -(2**70)}]},  # beyond 64 bits: the stdlib's path
        {1: "int key", "x": 0.5},
    ],
)
def test_text_is_the_stdlib_compact_text(value: Any) -> None:
    expected = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    assert jsontext.dumps(value).decode() == expected
    assert json.loads(jsontext.dumps(value)) == json.loads(expected)


def test_floats_read_back_the_same() -> None:
    value = {"x": 1e-7, "y": 1.7976931348623157e308, "z": 0.1 + 0.2}
    assert json.loads(jsontext.dumps(value)) == value


def test_nan_is_written_as_valid_json() -> None:
    assert jsontext.dumps({"x": math.nan}) == b'{"x":null}'


def test_a_value_that_is_not_json_is_refused() -> None:
    with pytest.raises(TypeError):
        jsontext.dumps({"x": object()})
