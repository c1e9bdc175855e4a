"""hvac against the Vault emulator: the answers the Vault HTTP API documents.

References:
- https://developer.hashicorp.com/vault/api-docs/system/seal-status  (unauthenticated)
- https://developer.hashicorp.com/vault/api-docs/system/health  (unauthenticated)
- https://developer.hashicorp.com/vault/api-docs/system/init  (GET: unauthenticated)
- https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2  (read, list, metadata)
- https://developer.hashicorp.com/vault/api-docs/auth/token  (lookup-self)
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import hvac
import hvac.exceptions
import pytest

from emulators.base import load_scenario
from emulators.vault import VaultEmulator

REPO = Path(__file__).resolve().parents[2]
ROOT = "steadfast-demo-root-token"


@pytest.fixture
def vault() -> Iterator[VaultEmulator]:
    scenario = load_scenario()
    scenario["vault"]["timeout_paths"] = []
    with VaultEmulator(scenario) as emulator:
        yield emulator


def test_seal_status_needs_no_token(vault):
    # seal-status: "This is an unauthenticated endpoint."; the unsealed sample response
    anonymous = hvac.Client(url=vault.url)
    try:
        status = anonymous.sys.read_seal_status()
        assert status["sealed"] is False and status["initialized"] is True
        assert {"type", "t", "n", "progress", "version", "cluster_name"} <= set(status)
        assert anonymous.sys.is_sealed() is False
    finally:
        anonymous.adapter.close()


def test_health_needs_no_token(vault):
    # sys/health: unauthenticated; 200 when initialized, unsealed and active
    anonymous = hvac.Client(url=vault.url)
    try:
        health = anonymous.sys.read_health_status(method="GET")
        assert health["initialized"] is True and health["sealed"] is False
        assert anonymous.sys.is_initialized() is True
    finally:
        anonymous.adapter.close()


def test_kv_read_needs_a_token(vault):
    # kv-v2 read without a token: 403 "permission denied"
    anonymous = hvac.Client(url=vault.url)
    try:
        with pytest.raises(hvac.exceptions.Forbidden):
            anonymous.secrets.kv.v2.read_secret_version(
                path="tenants/acme/db", mount_point="secret", raise_on_deleted_version=True
            )
    finally:
        anonymous.adapter.close()


def test_kv_read_with_a_token_has_the_documented_shape(vault):
    # kv-v2 read: {"data": {"data": {...}, "metadata": {"version": ...}}}
    client = hvac.Client(url=vault.url, token=ROOT)
    try:
        answer = client.secrets.kv.v2.read_secret_version(
            path="tenants/acme/db", mount_point="secret", raise_on_deleted_version=True
        )
        assert isinstance(answer["data"]["data"], dict) and answer["data"]["data"]
        assert answer["data"]["metadata"]["version"] >= 1
        assert client.is_authenticated() is True
    finally:
        client.adapter.close()


def test_main_has_help():
    result = subprocess.run(
        [sys.executable, "-m", "emulators.vault", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0 and "--scenario" in result.stdout
