"""The hashed lock files cover pyproject.toml, and the image, `make` and CI install from them.
(Resolving again needs the network; scripts/lock.sh does that, this checks the result offline.)"""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import REPO

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", re.M)


def _pins(name: str) -> dict[str, Version]:
    text = (REPO / name).read_text()
    return {canonicalize_name(m[1]): Version(m[2]) for m in PIN.finditer(text)}


def _blocks(name: str) -> list[str]:
    """One block per pinned package: its `name==version` line and continuation lines."""
    text = (REPO / name).read_text()
    return [b for b in re.split(r"\n(?=[A-Za-z0-9])", text) if PIN.match(b)]


def _requirements(extra: str | None) -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + (project["optional-dependencies"][extra] if extra else [])
    return [Requirement(d) for d in deps]


@pytest.mark.parametrize(
    ("lock", "extra"), [("requirements.lock", None), ("requirements-dev.lock", "dev")]
)
def test_lock_pins_every_dependency_within_its_bounds_with_hashes(lock: str, extra: str | None):
    pins = _pins(lock)
    for req in _requirements(extra):
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in {lock}; run scripts/lock.sh"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"{lock} pins {req.name}=={pins[name]} outside pyproject's {req.specifier}; "
            "run scripts/lock.sh"
        )
    for block in _blocks(lock):
        assert "--hash=sha256:" in block, f"{block.splitlines()[0]} has no hash"


def test_dev_lock_agrees_with_the_runtime_lock() -> None:
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    assert {n: v for n, v in dev.items() if n in runtime} == runtime


def test_installers_use_the_locks() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "--require-hashes -r requirements-dev.lock" in makefile
    assert "pip install -q --no-deps -e ." in makefile
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "--require-hashes --no-deps -r requirements.lock" in dockerfile
