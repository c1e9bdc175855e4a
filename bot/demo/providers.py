"""The settings that point each model provider at the Anthropic emulator, so the demo and the
evals run offline on Bedrock and Vertex too, through the same SDK clients production uses.

Bedrock: static dummy AWS keys (the emulator checks the SigV4 signature's form and scope, not
the secret) and the runtime endpoint overridden to the emulator. Vertex: a service-account key
file made on the spot whose `token_uri` is the emulator's token endpoint, so google-auth's own
JWT exchange runs on loopback and nothing calls Google.
"""

from __future__ import annotations

from pathlib import Path

from bot.agent.model import PROVIDERS
from bot.errors import SteadfastError
from emulators.anthropic_clouds import service_account_file

# The ids each cloud's catalogue gives the demo's Sonnet (the AWS and Google model lists)
DEMO_MODELS = {
    "bedrock": "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "vertex": "claude-sonnet-4-5@20250929",
}
DEMO_AWS_REGION = "us-east-1"
DEMO_AWS_ACCESS_KEY = "AKIADEMOOFFLINE00000"
DEMO_VERTEX_REGION = "us-east5"
DEMO_VERTEX_PROJECT = "steadfast-demo"


class UnknownProvider(SteadfastError):
    pass


def check_provider(provider: str) -> str:
    if provider not in PROVIDERS:
        raise UnknownProvider(
            f"unknown model provider {provider!r}; use one of {', '.join(PROVIDERS)}"
        )
    return provider


def provider_env(provider: str, emulator_url: str, workdir: Path) -> dict[str, str]:
    """The variables that select `provider` and send it to the emulator at `emulator_url`."""
    check_provider(provider)
    if provider == "bedrock":
        return {
            "STEADFAST_MODEL_PROVIDER": "bedrock",
            "STEADFAST_BEDROCK_MODEL": DEMO_MODELS["bedrock"],
            "STEADFAST_BEDROCK_REGION": DEMO_AWS_REGION,
            "STEADFAST_BEDROCK_BASE_URL": emulator_url,
            "AWS_ACCESS_KEY_ID": DEMO_AWS_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": "demo-offline-secret-key-not-a-real-one00",
            # nothing from this laptop's AWS setup, and no instance-metadata lookups
            "AWS_CONFIG_FILE": str(workdir / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "no-aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    if provider == "vertex":
        key = service_account_file(
            workdir / "vertex-service-account.json", f"{emulator_url}/token", DEMO_VERTEX_PROJECT
        )
        return {
            "STEADFAST_MODEL_PROVIDER": "vertex",
            "STEADFAST_VERTEX_MODEL": DEMO_MODELS["vertex"],
            "STEADFAST_VERTEX_REGION": DEMO_VERTEX_REGION,
            "STEADFAST_VERTEX_PROJECT": DEMO_VERTEX_PROJECT,
            "STEADFAST_VERTEX_BASE_URL": f"{emulator_url}/v1",
            "GOOGLE_APPLICATION_CREDENTIALS": str(key),
        }
    return {"STEADFAST_MODEL_PROVIDER": "anthropic"}
