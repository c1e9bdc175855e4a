"""Label and field selectors for the Kubernetes emulator, with the API server's errors for
terms it cannot parse."""

from __future__ import annotations

import re
from typing import Any


class SelectorError(ValueError):
    pass


def _field(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def match_fields(obj: dict[str, Any], selector: str | None) -> bool:
    for term in filter(None, (t.strip() for t in (selector or "").split(","))):
        m = re.fullmatch(r"([A-Za-z0-9_.]+)\s*(!=|==|=)\s*(.*)", term)
        if not m:
            raise SelectorError(f'invalid field selector term "{term}"')
        key, op, want = m.groups()
        if (_field(obj, key) == want) != (op != "!="):
            return False
    return True


def match_labels(labels: dict[str, str], selector: str | None) -> bool:
    terms = re.findall(r"[^,(]+(?:\([^)]*\))?", selector or "")
    for term in (t.strip() for t in terms if t.strip()):
        if m := re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)", term):
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            if (labels.get(key) in values) != (op == "in"):
                return False
        elif m := re.fullmatch(r"([\w./-]+)\s*(!=|==|=)\s*([\w./-]*)", term):
            key, op, want = m.groups()
            if (labels.get(key) == want) != (op != "!="):
                return False
        elif m := re.fullmatch(r"(!?)([\w./-]+)", term):
            if (m.group(2) in labels) == bool(m.group(1)):
                return False
        else:
            raise SelectorError(f'unable to parse label selector term "{term}"')
    return True
