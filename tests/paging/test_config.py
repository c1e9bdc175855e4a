"""Where paging keys come from (settings and a mounted Secret's files) and the policy refusing a
key pasted where its name belongs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.errors import ConfigError
from bot.settings import Settings
from bot.wiring import paging_keys
from policy.document import PageTarget, Route


def test_keys_come_from_the_environment_and_a_mounted_secret(tmp_path: Path) -> None:
    folder = tmp_path / "paging"
    folder.mkdir()
    (folder / "oncall-pd").write_text("R0UTINGKEY0000000000000000000001\n")
    (folder / "..data").mkdir()  # kubelet's own bookkeeping in a Secret volume
    (folder / ".hidden").write_text("not a key")
    settings = Settings(paging_keys='{"oncall-og": "og-key"}', paging_keys_dir=folder)
    keys = paging_keys(settings)
    assert sorted(keys) == ["oncall-og", "oncall-pd"]
    assert keys["oncall-pd"].get_secret_value() == "R0UTINGKEY0000000000000000000001"
    assert "R0UTING" not in repr(keys) and "og-key" not in repr(settings)


def test_an_unreadable_key_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="STEADFAST_PAGING_KEYS_DIR"):
        paging_keys(Settings(paging_keys_dir=tmp_path / "missing"))


def test_a_key_pasted_into_the_policy_is_refused() -> None:
    with pytest.raises(ValidationError, match="looks like the key itself"):
        PageTarget(service="pagerduty", key="R0UTINGKEY0000000000000000000001")
    with pytest.raises(ValidationError, match="looks like the key itself"):
        PageTarget(service="opsgenie", key="0a1b2c3d-0000-4000-8000-000000000001")
    route = Route(channel="C0ONCALL", pages=[{"service": "opsgenie", "key": "oncall-og"}])
    assert route.pages[0].severity == "critical"
    with pytest.raises(ValidationError):
        PageTarget(service="victorops", key="x")  # type: ignore[arg-type]
