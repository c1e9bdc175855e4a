"""The Vault, Kubernetes, platform and log emulators on their own: protocols, read-only
behaviour, control endpoints, and `python -m emulators.<name>`."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import httpx
import hvac
import hvac.exceptions
import pytest

from emulators.base import load_scenario
from emulators.kubernetes import KubernetesEmulator
from emulators.logs import LokiEmulator
from emulators.platform import PlatformEmulator
from emulators.scenario_time import resolve_times
from emulators.vault import VaultEmulator

SA = {"Authorization": "Bearer steadfast-demo-sa-token"}


@pytest.fixture(scope="module")
def scenario():
    data = load_scenario()
    data["vault"]["timeout_paths"] = []
    return data


def test_vault_emulator_speaks_hvac(scenario):
    with VaultEmulator(scenario) as emu:
        client = hvac.Client(url=emu.url, token="steadfast-demo-root-token")
        try:
            listing = client.secrets.kv.v2.list_secrets(path="tenants/acme", mount_point="secret")
            assert listing["data"]["keys"] == ["api", "db"]
            meta = client.secrets.kv.v2.read_secret_metadata(
                path="tenants/acme/db", mount_point="secret"
            )
            assert meta["data"]["current_version"] == 1
            with pytest.raises(hvac.exceptions.Forbidden):
                client.secrets.kv.v2.create_or_update_secret(
                    path="tenants/acme/db", secret={"password": "x"}, mount_point="secret"
                )
            login = client.auth.approle.login(
                role_id="steadfast-reader", secret_id="steadfast-demo-secret-id"
            )
            assert login["auth"]["lease_duration"] == 3600
            assert client.auth.token.lookup_self()["data"]["ttl"] > 3500
            with pytest.raises(hvac.exceptions.InvalidRequest):
                client.auth.approle.login(role_id="steadfast-reader", secret_id="wrong")
        finally:
            client.adapter.close()


def test_vault_demo_timeout_knob_is_on_in_the_demo_scenario():
    demo = load_scenario()
    assert demo["vault"]["timeout_paths"] == ["^/v1/secret/data/tenants/acme/"]


def test_control_endpoint_sets_and_clears_faults(scenario):
    with PlatformEmulator(scenario) as emu, httpx.Client() as http:
        http.post(f"{emu.url}/_control/faults", json={"mode": "429", "retry_after": 7, "count": 1})
        first = http.get(
            f"{emu.url}/v1/instances/i-123", headers={"Authorization": "Bearer platform-demo-token"}
        )
        assert first.status_code == 429 and first.headers["Retry-After"] == "7"
        second = http.get(
            f"{emu.url}/v1/instances/i-123", headers={"Authorization": "Bearer platform-demo-token"}
        )
        assert second.status_code == 200 and second.json()["state"] == "ERROR"
        assert http.get(f"{emu.url}/v1/instances/i-123").status_code == 401
        assert (
            http.post(
                f"{emu.url}/v1/instances/i-123",
                headers={"Authorization": "Bearer platform-demo-token"},
            ).status_code
            == 405
        )
        requests = http.get(f"{emu.url}/_control/requests").json()["requests"]
        assert [r["method"] for r in requests] == ["GET", "GET", "GET", "POST"]


def test_kubernetes_emulator_auth_discovery_and_read_only(scenario):
    with KubernetesEmulator(scenario) as emu, httpx.Client(base_url=emu.url) as http:
        assert http.get("/api/v1/pods").status_code == 401
        groups = http.get("/apis", headers=SA).json()
        assert {"apps", "batch", "metrics.k8s.io"} <= {g["name"] for g in groups["groups"]}
        resources = http.get("/api/v1", headers=SA).json()["resources"]
        assert "pods/log" in {r["name"] for r in resources}
        denied = http.delete(
            "/api/v1/namespaces/acme-prod/pods/auth-api-7c9d8f6b5-x2k9p", headers=SA
        )
        assert denied.status_code == 403 and denied.json()["reason"] == "Forbidden"
        created = http.post("/apis/apps/v1/namespaces/acme-prod/deployments", headers=SA, json={})
        assert created.status_code == 403 and "cannot create" in created.json()["message"]
        bad = http.get("/api/v1/pods", params={"labelSelector": "a in (b"}, headers=SA)
        assert bad.status_code == 400
        table = http.get(
            "/api/v1/namespaces/acme-prod/pods",
            headers={**SA, "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
        ).json()
        assert table["kind"] == "Table" and table["columnDefinitions"][0]["name"] == "Name"


def test_loki_emulator_filters_by_labels_and_lines(scenario):
    with LokiEmulator(scenario) as emu, httpx.Client(base_url=emu.url) as http:
        answer = http.get(
            "/loki/api/v1/query_range",
            params={"query": '{tenant="acme", app=~"auth.*"} |= "FATAL" != "nothing"'},
        ).json()
        streams = answer["data"]["result"]
        assert [s["stream"]["level"] for s in streams] == ["error"]
        assert len(streams[0]["values"]) == 2
        assert http.get("/loki/api/v1/query_range", params={"query": "oops"}).status_code == 400


def test_relative_times_resolve_against_now():
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    data = {"a": "${now-90m}", "b": ["at ${now} and ${now-1d}"], "c": 3}
    assert resolve_times(data, now) == {
        "a": "2026-01-02T01:34:05Z",
        "b": ["at 2026-01-02T03:04:05Z and 2026-01-01T03:04:05Z"],
        "c": 3,
    }


@pytest.mark.slow
@pytest.mark.parametrize("module", ["vault", "kubernetes", "platform", "logs"])
def test_python_dash_m_serves_the_demo_scenario(module):
    proc = subprocess.Popen(
        [sys.executable, "-m", f"emulators.{module}"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        announced = json.loads(proc.stdout.readline())
        health = {
            "vault": "/v1/sys/health",
            "kubernetes": "/healthz",
            "platform": "/healthz",
            "logs": "/ready",
        }
        assert httpx.get(announced["url"] + health[module], timeout=5).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.parametrize(
    "module", ["vault", "kubernetes", "platform", "logs", "slack", "anthropic"]
)
def test_every_emulator_main_has_help(module):
    # every `python -m emulators.<name>` parses its arguments (and so answers --help)
    result = subprocess.run(
        [sys.executable, "-m", f"emulators.{module}", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "--scenario" in result.stdout and "--port" in result.stdout


def test_kubernetes_control_changes_the_world(scenario):
    # for an emulator in another process: what `emulator.apply/remove` do in-process
    with KubernetesEmulator(scenario) as emu, httpx.Client(base_url=emu.url) as http:
        pod = {"metadata": {"name": "new-1", "namespace": "acme-prod"}, "status": {}}
        applied = http.post("/_control/apply", json={"resource": "pods", "object": pod})
        assert applied.status_code == 200 and int(applied.json()["resourceVersion"]) > 1000
        got = http.get("/api/v1/namespaces/acme-prod/pods/new-1", headers=SA)
        assert got.status_code == 200 and got.json()["kind"] == "Pod"
        removed = http.post(
            "/_control/remove",
            json={"resource": "pods", "namespace": "acme-prod", "name": "new-1"},
        )
        assert removed.status_code == 200
        assert http.get("/api/v1/namespaces/acme-prod/pods/new-1", headers=SA).status_code == 404
        bad = http.post("/_control/apply", json={"resource": "widgets", "object": pod})
        assert bad.status_code == 400
