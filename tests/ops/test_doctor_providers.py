"""`steadfast doctor` on Bedrock or Vertex: no billed probe, no demand for ANTHROPIC_API_KEY."""

from __future__ import annotations

from bot.ops.doctor import model_check
from bot.settings import Settings
from core.scrubber import Scrubber


def test_cloud_providers_skip_the_claude_api_probe() -> None:
    for provider in ("bedrock", "vertex"):
        health = model_check(Settings(model_provider=provider), Scrubber())
        assert health.healthy and f"provider is {provider}" in health.detail
