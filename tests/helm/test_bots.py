"""Several bots: replicas, the bot PodDisruptionBudget, the rollout and the sender lease TTL
agree with each other and with values.schema.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helm.conftest import Render, by_kind, one, template


def _env(deploy: dict[str, Any]) -> dict[str, Any]:
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in container["env"]}


def test_one_bot_has_no_pdb_that_would_block_drains(render: Render) -> None:
    docs = render(None)
    assert one(docs, "Deployment", "sf-steadfast-bot")["spec"]["replicas"] == 1
    names = [d["metadata"]["name"] for d in by_kind(docs, "PodDisruptionBudget")]
    assert names == ["sf-steadfast-worker"]


@pytest.mark.parametrize("mode", ["socket", "http"])
def test_several_bots_keep_one_up_and_roll_with_a_surge(render: Render, mode: str) -> None:
    docs = render({"bot": {"replicas": 3, "mode": mode, "senderLeaseTTLSeconds": 7}})
    deploy = one(docs, "Deployment", "sf-steadfast-bot")
    assert deploy["spec"]["replicas"] == 3
    # old and new bots overlap during a rollout: safe, one sender is elected by lease
    assert deploy["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert _env(deploy)["STEADFAST_SENDER_LEASE_TTL_SECONDS"] == "7"
    pdb = one(docs, "PodDisruptionBudget", "sf-steadfast-bot")
    assert pdb["spec"]["minAvailable"] == 1
    labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_bot_pdb_can_be_turned_off(render: Render) -> None:
    docs = render({"bot": {"replicas": 2, "podDisruptionBudget": {"enabled": False}}})
    assert [d["metadata"]["name"] for d in by_kind(docs, "PodDisruptionBudget")] == [
        "sf-steadfast-worker"
    ]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"bot": {"replicas": 0}}, "bot/replicas"),
        ({"bot": {"senderLeaseTTLSeconds": 0}}, "senderLeaseTTLSeconds"),
        ({"bot": {"podDisruptionBudget": {"minAvailable": 2}}}, "minAvailable"),
    ],
    ids=["no bot", "zero lease", "unknown pdb key"],
)
def test_refused(helm: str, tmp_path: Path, values: dict[str, Any], expected: str) -> None:
    proc = template(helm, values, tmp_path)
    assert proc.returncode != 0, f"rendered although {values} is invalid"
    assert expected in proc.stderr, proc.stderr
