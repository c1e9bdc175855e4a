"""The optional NetworkPolicy only opens what Steadfast talks to."""

from __future__ import annotations

import copy

from tests.helm.conftest import VALUE_SETS, Render, by_kind, one


def test_every_rule_names_its_peers(render: Render) -> None:
    policies = by_kind(render(VALUE_SETS["network-policy"]), "NetworkPolicy")
    assert len(policies) == 2
    for np in policies:
        # An empty `to`/`from` means "anywhere": never rendered.
        for rule in np["spec"].get("egress", []):
            assert rule["to"] and rule["ports"], rule
        for rule in np["spec"].get("ingress", []):
            assert rule["from"] and rule["ports"], rule


def test_egress_destinations(render: Render) -> None:
    docs = render(VALUE_SETS["network-policy"])
    base = one(docs, "NetworkPolicy", "sf-steadfast")
    assert set(base["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    ports = {(p["port"], p["protocol"]) for r in base["spec"]["egress"] for p in r["ports"]}
    assert ports == {(53, "UDP"), (53, "TCP"), (5432, "TCP"), (443, "TCP")}
    internet = next(
        r
        for r in base["spec"]["egress"]
        if r["to"][0].get("ipBlock", {}).get("cidr") == "0.0.0.0/0"
    )
    assert "10.0.0.0/8" in internet["to"][0]["ipBlock"]["except"]

    worker = one(docs, "NetworkPolicy", "sf-steadfast-worker")
    assert worker["spec"]["podSelector"]["matchExpressions"] == [
        {"key": "app.kubernetes.io/component", "operator": "In", "values": ["worker", "test"]}
    ]
    peers = {
        (peer["ipBlock"]["cidr"], p["port"])
        for r in worker["spec"]["egress"]
        for peer in r["to"]
        for p in r["ports"]
    }
    assert peers == {("10.0.0.1/32", 443), ("10.0.0.1/32", 6443), ("10.30.0.10/32", 8200)}


def test_off_by_default(render: Render) -> None:
    assert not by_kind(render(None), "NetworkPolicy")


def test_worker_egress_adds_in_cluster_services(render: Render) -> None:
    loki = {
        "to": [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
        ],
        "ports": [{"port": 3100, "protocol": "TCP"}],
    }
    values = copy.deepcopy(VALUE_SETS["network-policy"])
    values["networkPolicy"]["workerEgress"] = [loki]
    worker = one(render(values), "NetworkPolicy", "sf-steadfast-worker")
    assert worker["spec"]["egress"][-1] == loki
