"""`steadfast eval --provider`: a scripted case runs through the SDK's Bedrock and Vertex
clients against the emulator's cloud paths, and scores as on the Claude API."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from bot.demo.providers import DEMO_MODELS, UnknownProvider, provider_env
from bot.demo.stack import Stack, demo_scenario, settings_for
from bot.evals.case import CASES_DIR, find_cases
from bot.evals.runner import EvalOptions, run_case


@pytest.mark.slow
@pytest.mark.parametrize("provider", ["bedrock", "vertex"])
def test_a_scripted_case_scores_on_each_cloud_provider(provider: str, tmp_path: Path) -> None:
    (case,) = find_cases("healthy", CASES_DIR)
    run = run_case(case, EvalOptions(provider=provider, workdir=tmp_path, parallel=1, keep=True))
    assert run.error is None and run.score is not None
    assert run.score.total == 100
    # the kept store says which provider and model answered every step
    (db,) = tmp_path.glob("steadfast-eval-*/eval.db")
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT data FROM job_events WHERE kind = 'model_response'").fetchall()
    answered = {(json.loads(d)["provider"], json.loads(d)["model"]) for (d,) in rows}
    assert answered == {(provider, DEMO_MODELS[provider])}


def test_the_stack_points_each_provider_at_the_emulator(tmp_path: Path) -> None:
    stack = Stack.start(demo_scenario())
    try:
        for provider in ("bedrock", "vertex"):
            env = stack.settings_env(database_url="sqlite://", workdir=tmp_path, provider=provider)
            settings = settings_for(env)
            assert settings.model_provider == provider
            assert getattr(settings, f"{provider}_model") == DEMO_MODELS[provider]
            base = settings.bedrock_base_url or settings.vertex_base_url or ""
            assert base.startswith(stack.anthropic.url)
        vertex = settings_for(
            stack.settings_env(database_url="sqlite://", workdir=tmp_path, provider="vertex")
        )
        assert vertex.google_application_credentials is not None
        assert f"{stack.anthropic.url}/token" in vertex.google_application_credentials.read_text()
    finally:
        stack.stop()
    with pytest.raises(UnknownProvider, match="azure"):
        provider_env("azure", "http://127.0.0.1:1", tmp_path)
