"""The layering in docs/architecture.md, checked on the source: a package imports only from
the layers below it (core -> policy -> sandbox, integrations -> bot)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# what each package may import from, besides itself and third-party libraries
ALLOWED = {
    "core": set(),
    "policy": {"core"},
    "sandbox": {"core", "policy"},
    "integrations": {"core", "policy"},
}
OURS = {"core", "policy", "sandbox", "integrations", "bot", "emulators"}


def imported_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & OURS


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_lower_layers_never_import_upwards(package: str) -> None:
    wrong = {
        f"{path.relative_to(REPO)} imports {other}"
        for path in sorted((REPO / package).rglob("*.py"))
        for other in imported_packages(path) - ALLOWED[package] - {package}
    }
    assert not wrong, sorted(wrong)
