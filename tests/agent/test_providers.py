"""Claude on Bedrock and Vertex, and the fallback between providers: the real SDK clients
(`AnthropicBedrock` signing with botocore, `AnthropicVertex` with a google-auth token) against
the emulator's Bedrock and Vertex paths, wired from `Settings` the way a worker is."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.agent.cloud_credentials import google_credentials
from bot.agent.errors import AgentError, ModelAuthFailed
from bot.agent.factory import agent_config, fallback_route, model_client
from bot.agent.loop import AgentHandler
from bot.agent.retry import RetryPolicy
from bot.agent.toolbox import Clients, Toolbox
from bot.cost import PriceTable
from bot.handoff.render_slack import handoff_blocks
from bot.handoff.render_text import render_text
from bot.model import JobStatus
from bot.settings import Settings
from core.scrubber import Scrubber
from emulators.anthropic import AnthropicEmulator
from emulators.anthropic_clouds import service_account_file
from emulators.base import load_scenario
from policy.source import FixedPolicy
from tests.agent.conftest import SCENARIO, make_policy
from tests.agent.fakes import (
    Crash,
    FakeContext,
    FakeHttp,
    FakeKubernetes,
    FakeLogs,
    FakeSandbox,
    FakeVault,
    RecordingNotifier,
    make_job,
)

BEDROCK_MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
VERTEX_MODEL = "claude-sonnet-4-5@20250929"
ACCESS_KEY = "AKIAEMULATEDEXAMPLE1"


@pytest.fixture
def emulator() -> Iterator[AnthropicEmulator]:
    scenario = load_scenario(SCENARIO)
    scenario["anthropic"]["bedrock"] = {"access_key": ACCESS_KEY, "region": "us-east-1"}
    scenario["anthropic"]["vertex"] = {"project": "steadfast-test", "region": "us-east5"}
    with AnthropicEmulator(scenario) as emu:
        yield emu  # type: ignore[misc]


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing from this machine's cloud setup, and no metadata-server lookups: every
    credential comes from the settings below."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_BEARER_TOKEN_BEDROCK",
        "GOOGLE_APPLICATION_CREDENTIALS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:9")


@pytest.fixture
def adc(tmp_path: Path, emulator: AnthropicEmulator) -> Path:
    """A service-account key file whose token_uri is the emulator's token endpoint: google-auth
    signs a JWT and exchanges it on loopback, as it would at Google."""
    return service_account_file(tmp_path / "adc.json", f"{emulator.url}/token", "steadfast-test")


def settings_for(emulator: AnthropicEmulator, provider: str, adc: Path, **extra: Any) -> Settings:
    return Settings(
        model_provider=provider,
        anthropic_api_key="sk-test",
        anthropic_base_url=emulator.url,
        bedrock_model=BEDROCK_MODEL,
        bedrock_region="us-east-1",
        bedrock_base_url=emulator.url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key="emulated/secret/key/not/real/0000000000",
        vertex_model=VERTEX_MODEL,
        vertex_region="us-east5",
        vertex_project="steadfast-test",
        vertex_base_url=f"{emulator.url}/v1",
        google_application_credentials=adc,
        model_timeout_seconds=10.0,
        **extra,
    )


class Run:
    def __init__(self, settings: Settings) -> None:
        self.notifier = RecordingNotifier()
        self.scrubber = Scrubber()
        config = agent_config(settings)
        config = type(config)(
            model=config.model,
            provider=config.provider,
            max_tokens=1024,
            retry=RetryPolicy(attempts=3, base_seconds=0.01, max_seconds=0.02),
            prices=config.prices,
        )
        clients = Clients(
            vault=FakeVault(), kubernetes=FakeKubernetes(), http=FakeHttp(), logs=FakeLogs()
        )
        self.agent = AgentHandler(
            config,
            model_client(settings, self.scrubber),
            Toolbox(clients, FakeSandbox(), self.scrubber),
            FixedPolicy(make_policy()),
            self.notifier,
            sleep=lambda s: None,
            fallback=fallback_route(settings, self.scrubber),
        )

    def __call__(self, text: str) -> tuple[FakeContext, Any]:
        ctx = FakeContext(make_job(text))
        try:
            return ctx, self.agent.run(ctx)
        finally:
            self.agent.close()


def paths(emulator: AnthropicEmulator) -> list[str]:
    return [r.path for r in emulator.requests if r.path != "/token"]


def test_bedrock_investigation_signs_with_sigv4_and_records_provider_and_model(
    emulator: AnthropicEmulator, adc: Path
) -> None:
    ctx, result = Run(settings_for(emulator, "bedrock", adc))("checkout is down scenario:ten-step")
    assert result.status == JobStatus.SUCCEEDED
    assert paths(emulator) == [f"/model/{BEDROCK_MODEL}/invoke"] * 10
    first = emulator.requests[0]
    assert first.headers["authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/"
    )
    assert "/us-east-1/bedrock/aws4_request" in first.headers["authorization"]
    body = first.json()
    assert body["anthropic_version"] == "bedrock-2023-05-31" and "model" not in body
    assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}  # caching kept
    for kind in ("model_request", "model_response"):
        assert {(e.data["provider"], e.data["model"]) for e in ctx.of(kind)} == {
            ("bedrock", BEDROCK_MODEL)
        }
    # Bedrock's ids are priced as the family they name
    assert ctx.of("handoff")[-1].data["cost_usd"] > 0
    assert ctx.of("handoff")[-1].data["model_fallback"] is None


def test_vertex_investigation_uses_an_adc_token_and_records_provider_and_model(
    emulator: AnthropicEmulator, adc: Path
) -> None:
    ctx, result = Run(settings_for(emulator, "vertex", adc))("checkout is down scenario:ten-step")
    assert result.status == JobStatus.SUCCEEDED, [(e.kind, e.data) for e in ctx.events][-6:]
    path = (
        f"/v1/projects/steadfast-test/locations/us-east5/publishers/anthropic/models/"
        f"{VERTEX_MODEL}:rawPredict"
    )
    assert [p.replace("%40", "@") for p in paths(emulator)] == [path] * 10
    # google-auth exchanged the service account's signed JWT at the emulator, once, and reused it
    assert [r.path for r in emulator.requests].count("/token") == 1
    calls = [r for r in emulator.requests if r.path != "/token"]
    assert {r.headers["authorization"] for r in calls} == {"Bearer ya29.emulated-1"}
    body = calls[0].json()
    assert body["anthropic_version"] == "vertex-2023-10-16" and "model" not in body
    assert {(e.data["provider"], e.data["model"]) for e in ctx.of("model_response")} == {
        ("vertex", VERTEX_MODEL)
    }
    assert ctx.of("handoff")[-1].data["cost_usd"] > 0


def test_overloaded_primary_falls_back_and_the_handoff_says_so(
    emulator: AnthropicEmulator, adc: Path
) -> None:
    emulator.faults.set("529", path="^/v1/messages$")  # the Claude API stays overloaded
    run = Run(settings_for(emulator, "anthropic", adc, model_fallback_provider="bedrock"))
    ctx, result = run("checkout is down scenario:ten-step")
    assert result.status == JobStatus.SUCCEEDED
    # the primary's three tries (two retries), then every step on Bedrock
    assert paths(emulator)[:3] == ["/v1/messages"] * 3
    assert paths(emulator)[3:] == [f"/model/{BEDROCK_MODEL}/invoke"] * 10
    assert [r.data["status"] for r in ctx.of("retry")] == [529, 529]
    (fallback,) = ctx.of("model_fallback")
    assert fallback.data["provider"] == "bedrock" and fallback.data["model"] == BEDROCK_MODEL
    assert fallback.data["from_provider"] == "anthropic" and fallback.data["status"] == 529
    assert fallback.data["kind"] == "overloaded" and "529" in fallback.data["cause"]
    assert fallback.data["step"] == 1 == ctx.of("model_request")[0].data["step"]
    assert ctx.of("retry")[-1].seq < fallback.seq < ctx.of("model_response")[0].seq
    assert {e.data["provider"] for e in ctx.of("model_response")} == {"bedrock"}
    handoff = run.notifier.handoffs[-1]
    assert handoff.model_fallback and "bedrock" in handoff.model_fallback
    assert f"Model fallback: {handoff.model_fallback}" in render_text(handoff)
    assert handoff.model_fallback in json.dumps(handoff_blocks(handoff))


def test_a_rejected_request_does_not_fall_back(emulator: AnthropicEmulator, adc: Path) -> None:
    run = Run(settings_for(emulator, "anthropic", adc, model_fallback_provider="vertex"))
    ctx, result = run("scenario:bad-request")
    assert result.status == JobStatus.FAILED and result.error_kind == "model_rejected"
    assert ctx.of("model_fallback") == []
    assert paths(emulator) == ["/v1/messages"]


def test_a_fallback_that_is_also_unavailable_stops_the_job_as_degraded(
    emulator: AnthropicEmulator, adc: Path
) -> None:
    emulator.faults.set("503", path="^/(v1/messages|model/)")
    run = Run(settings_for(emulator, "anthropic", adc, model_fallback_provider="bedrock"))
    ctx, result = run("scenario:ten-step")
    assert result.status == JobStatus.ESCALATED
    assert len(ctx.of("model_fallback")) == 1
    assert paths(emulator) == ["/v1/messages"] * 3 + [f"/model/{BEDROCK_MODEL}/invoke"] * 3
    assert ctx.of("degraded")[-1].data["dependency"] == "model"


def test_bedrock_refusing_the_aws_key_fails_the_job_with_the_fix(
    emulator: AnthropicEmulator, adc: Path
) -> None:
    """A Bedrock key the emulator does not know is refused the way AWS refuses it."""
    emulator.clouds.bedrock["access_key"] = "AKIAANOTHERKEY000000"
    _, result = Run(settings_for(emulator, "bedrock", adc))("scenario:ten-step")
    assert result.status == JobStatus.FAILED and result.error_kind == "model_auth"
    assert "bedrock:InvokeModel" in result.error_message


def test_emulator_answers_cloud_errors_in_each_clouds_shape(emulator: AnthropicEmulator) -> None:
    unsigned = httpx.post(
        f"{emulator.url}/model/{BEDROCK_MODEL}/invoke",
        json={"anthropic_version": "bedrock-2023-05-31", "max_tokens": 1, "messages": []},
    )
    assert unsigned.status_code == 403
    assert unsigned.headers["x-amzn-ErrorType"].startswith("AccessDeniedException:")
    assert unsigned.json() == {"message": "Missing Authentication Token"}
    no_token = httpx.post(
        f"{emulator.url}/v1/projects/steadfast-test/locations/us-east5/publishers/anthropic/"
        f"models/{VERTEX_MODEL}:rawPredict",
        json={"anthropic_version": "vertex-2023-10-16", "max_tokens": 1, "messages": []},
    )
    assert no_token.status_code == 401
    assert no_token.json()["error"]["status"] == "UNAUTHENTICATED"
    bad_grant = httpx.post(f"{emulator.url}/token", data={"grant_type": "password"})
    assert bad_grant.status_code == 400 and bad_grant.json()["error"] == "invalid_grant"


@pytest.mark.slow  # google-auth backs off between its own tries (seconds)
def test_a_token_endpoint_that_is_down_is_retried_like_the_model_api(
    emulator: AnthropicEmulator, adc: Path
) -> None:
    # google-auth tries the token endpoint three times itself before it gives up
    emulator.faults.set("503", path="^/token$", count=3)
    ctx, result = Run(settings_for(emulator, "vertex", adc))("scenario:ten-step")
    assert result.status == JobStatus.SUCCEEDED
    (retry,) = ctx.of("retry")
    assert retry.data["kind"] == "unreachable" and "token endpoint" in retry.data["reason"]


def test_cloud_model_ids_are_priced_by_family() -> None:
    prices = PriceTable()
    usage = {"input_tokens": 1_000_000, "output_tokens": 0}
    sonnet = prices.cost("claude-sonnet-4-5", usage).usd
    assert sonnet > 0
    for model in (BEDROCK_MODEL, f"us.{BEDROCK_MODEL}", VERTEX_MODEL):
        assert prices.cost(model, usage).usd == sonnet, model


def test_settings_that_cannot_work_are_refused_with_the_fix(
    emulator: AnthropicEmulator, adc: Path, tmp_path: Path
) -> None:
    same = settings_for(emulator, "bedrock", adc, model_fallback_provider="bedrock")
    with pytest.raises(AgentError, match="another provider or another model"):
        fallback_route(same, Scrubber())
    no_model = settings_for(emulator, "bedrock", adc).model_copy(update={"bedrock_model": None})
    with pytest.raises(AgentError, match="STEADFAST_BEDROCK_MODEL is not set"):
        agent_config(no_model)
    wrong_type = tmp_path / "gcloud.json"
    wrong_type.write_text(json.dumps({"type": "impersonated_service_account"}))
    with pytest.raises(ModelAuthFailed, match="not supported for Vertex AI"):
        google_credentials(wrong_type)


def test_the_aws_secret_is_registered_with_the_scrubber(
    emulator: AnthropicEmulator, adc: Path
) -> None:
    scrubber = Scrubber()
    model_client(settings_for(emulator, "bedrock", adc), scrubber).close()
    assert "emulated/secret/key" not in scrubber.scrub(
        "key emulated/secret/key/not/real/0000000000 leaked"
    )


def test_bedrock_throttling_is_retried_honouring_retry_after(
    emulator: AnthropicEmulator, adc: Path
) -> None:
    """Bedrock's ThrottlingException (429) and ServiceUnavailableException (503, where the
    Claude API says 529 overloaded) come back through the SDK as retryable."""
    ctx, result = Run(settings_for(emulator, "bedrock", adc))("scenario:retry")
    assert result.status == JobStatus.SUCCEEDED
    assert [r.data["status"] for r in ctx.of("retry")] == [429, 429, 503]
    assert all(r.data["wait_seconds"] >= 0.05 for r in ctx.of("retry")[:2])
    assert {r.path for r in emulator.requests} == {f"/model/{BEDROCK_MODEL}/invoke"}


def test_vertex_prompt_too_long_compacts_and_finishes(
    emulator: AnthropicEmulator, adc: Path
) -> None:
    ctx, result = Run(settings_for(emulator, "vertex", adc))("scenario:too-long")
    assert result.status == JobStatus.SUCCEEDED
    (compacted,) = ctx.of("compacted")
    assert "too long" in compacted.data["reason"]


@pytest.mark.parametrize("crash_at", [3, 6])
def test_a_job_resumed_after_falling_back_stays_on_the_fallback(
    emulator: AnthropicEmulator, adc: Path, crash_at: int
) -> None:
    """Checkpoints 1-2 are the primary's retries, 3 the fallback: a worker killed at or after
    it leaves a job the next worker continues on Bedrock, never asking the primary again."""
    emulator.faults.set("529", path="^/v1/messages$")
    settings = settings_for(emulator, "anthropic", adc, model_fallback_provider="bedrock")
    ctx = FakeContext(make_job("scenario:ten-step"), crash_at=crash_at)
    first = Run(settings)
    with pytest.raises(Crash):
        first.agent.run(ctx)
    first.agent.close()
    assert len(ctx.of("model_fallback")) == 1
    again = Run(settings)
    try:
        result = again.agent.run(ctx.resume())
    finally:
        again.agent.close()
    assert result.status == JobStatus.SUCCEEDED
    assert len(ctx.of("model_fallback")) == 1
    assert paths(emulator).count("/v1/messages") == 3
    assert emulator.job_state(ctx.job.id)["repeated"] == 0
    assert again.notifier.handoffs[-1].model_fallback


def test_bedrock_with_no_aws_credentials_anywhere_fails_the_job_with_the_fix(
    emulator: AnthropicEmulator, adc: Path
) -> None:
    """No keys in the settings and none in boto3's chain (the `offline` fixture empties it):
    nothing is sent, and the job fails saying what to set up."""
    settings = settings_for(emulator, "bedrock", adc).model_copy(
        update={"aws_access_key_id": None, "aws_secret_access_key": None}
    )
    _, result = Run(settings)("scenario:ten-step")
    assert result.status == JobStatus.FAILED and result.error_kind == "model_auth"
    assert "no AWS credentials found" in result.error_message
    assert paths(emulator) == []
