"""Paging keys: a Secret you name, mounted into the bot (the outbox sender) only, read through
STEADFAST_PAGING_KEYS_DIR; the chart holds no key and the workers never see one."""

from __future__ import annotations

from typing import Any

from tests.helm.conftest import Render, one


def _container(deploy: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = deploy["spec"]["template"]["spec"]["containers"][0]
    return container


def _env(deploy: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value") for e in _container(deploy)["env"]}


def test_paging_keys_are_mounted_into_the_bot_only(render: Render) -> None:
    docs = render(
        {
            "paging": {
                "existingSecret": "steadfast-paging",
                "opsgenieUrl": "https://api.eu.opsgenie.com",
            }
        }
    )
    bot = one(docs, "Deployment", "sf-steadfast-bot")
    env = _env(bot)
    assert env["STEADFAST_PAGING_KEYS_DIR"] == "/var/run/secrets/steadfast-paging"
    assert env["STEADFAST_OPSGENIE_URL"] == "https://api.eu.opsgenie.com"
    assert "STEADFAST_PAGERDUTY_URL" not in env  # the public API by default
    [volume] = [v for v in bot["spec"]["template"]["spec"]["volumes"] if v["name"] == "paging-keys"]
    assert volume["secret"]["secretName"] == "steadfast-paging"
    [mount] = [m for m in _container(bot)["volumeMounts"] if m["name"] == "paging-keys"]
    assert mount["readOnly"] is True
    worker = one(docs, "Deployment", "sf-steadfast-worker")
    assert not any("PAGING" in name for name in _env(worker))
    assert all(v["name"] != "paging-keys" for v in worker["spec"]["template"]["spec"]["volumes"])


def test_without_a_paging_secret_nothing_is_mounted(render: Render) -> None:
    bot = one(render(None), "Deployment", "sf-steadfast-bot")
    assert "STEADFAST_PAGING_KEYS_DIR" not in _env(bot)
    assert all(v["name"] != "paging-keys" for v in bot["spec"]["template"]["spec"]["volumes"])
