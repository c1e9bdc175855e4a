"""The chart mounts the policy ConfigMap as a directory (no subPath). kubelet updates such a
mount by writing a new timestamped directory and atomically swapping the `..data` symlink.
These tests build that exact layout and check that a running process follows the swap, keeps
the last good policy on a bad edit, and that readiness reflects it."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from bot.ops import PolicyNotLoaded, policy_check
from policy.loader import PolicyLoader

_stamps = itertools.count()


def kubelet_write(mount: Path, files: dict[str, str]) -> None:
    """Publish `files` into `mount` the way kubelet's atomic writer does."""
    new = mount / f"..2026_11_22_03_00_00.{next(_stamps)}"
    new.mkdir()
    for name, text in files.items():
        (new / name).write_text(text)
    old = os.readlink(mount / "..data") if (mount / "..data").is_symlink() else None
    tmp = mount / "..data_tmp"
    tmp.symlink_to(new.name)
    os.replace(tmp, mount / "..data")  # the atomic swap
    for name in files:
        link = mount / name
        if not link.is_symlink():
            link.symlink_to(f"..data/{name}")
    if old is not None:
        for f in (mount / old).iterdir():
            f.unlink()
        (mount / old).rmdir()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def mount(tmp_path: Path) -> Path:
    d = tmp_path / "etc-steadfast"
    d.mkdir()
    return d


def test_a_configmap_update_reaches_the_running_process(mount: Path) -> None:
    kubelet_write(mount, {"policy.yaml": "version: 1\nbudgets: {steps: 10}\n"})
    clock = Clock()
    loader = PolicyLoader(mount / "policy.yaml", clock=clock)
    ready = policy_check(loader)
    ready()
    assert loader.current().budgets.steps == 10

    kubelet_write(mount, {"policy.yaml": "version: 1\nbudgets: {steps: 25}\n"})
    clock.now += 5
    assert loader.current().budgets.steps == 25

    # An invalid edit: the last good policy stays in force and the pod stays ready.
    kubelet_write(mount, {"policy.yaml": "version: 1\nbudgets: {stepz: 30}\n"})
    clock.now += 5
    assert loader.current().budgets.steps == 25
    assert loader.error and "stepz" in loader.error
    ready()


def test_not_ready_until_a_valid_policy_is_loaded(mount: Path) -> None:
    kubelet_write(mount, {"policy.yaml": "budgets: [not, a, mapping]\n"})
    clock = Clock()
    loader = PolicyLoader(mount / "policy.yaml", clock=clock)
    ready = policy_check(loader)
    with pytest.raises(PolicyNotLoaded, match="no valid policy loaded from"):
        ready()

    kubelet_write(mount, {"policy.yaml": "version: 1\n"})
    clock.now += 5
    ready()


def test_missing_policy_file_is_not_ready(mount: Path) -> None:
    loader = PolicyLoader(mount / "policy.yaml", clock=Clock())
    with pytest.raises(PolicyNotLoaded, match="not found"):
        policy_check(loader)()
