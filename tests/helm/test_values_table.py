"""The chart README's values table is generated from values.schema.json and is current."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO
from tests.helm.conftest import CHART

SCRIPT = REPO / "scripts" / "chart-values-table.py"


def _leaves(node: dict, path: list[str]) -> list[str]:
    props = node.get("properties")
    if not props:
        return [".".join(path)]
    return [leaf for k, child in props.items() for leaf in _leaves(child, [*path, k])]


def test_readme_values_table_is_current() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr


def test_every_schema_value_has_a_row() -> None:
    readme = (CHART / "README.md").read_text()
    schema = json.loads((CHART / "values.schema.json").read_text())
    missing = [leaf for leaf in _leaves(schema, []) if f"| `{leaf}` |" not in readme]
    assert not missing, missing
