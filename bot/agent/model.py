"""The model behind one narrow interface: `ModelClient.create(request) -> dict`.

`AnthropicModel` is the real adapter (the SDK's own retries off; one policy lives in
`retry.py`); every SDK exception is translated here, once, into `bot.agent.errors`. It wraps
any of the SDK's three clients: `Anthropic` (the Claude API), `AnthropicBedrock` (Amazon
Bedrock, SigV4 from the AWS credential chain) and `AnthropicVertex` (Google Vertex AI, a bearer
token from Application Default Credentials). They share `messages.create`, so one call path
serves every provider; a `ModelRoute` names which one a request went to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from bot.agent.errors import (
    ContextTooLarge,
    ModelAuthFailed,
    ModelError,
    ModelRejected,
    ModelRetryable,
)
from core import jsontext
from core.retry import parse_retry_after


@dataclass(frozen=True, slots=True)
class ModelRequest:
    model: str
    max_tokens: int
    system: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    job_id: str


Provider = Literal["anthropic", "bedrock", "vertex"]
PROVIDERS: tuple[Provider, ...] = ("anthropic", "bedrock", "vertex")

# Bedrock and Vertex take the API version in the body, not a header, and each documents the one
# value it accepts (AWS: "Anthropic Claude Messages API"; Google: "Use Claude models").
BODY_VERSIONS: dict[str, str] = {"bedrock": "bedrock-2023-05-31", "vertex": "vertex-2023-10-16"}

# What an admin checks when the provider refuses the credentials
_CREDENTIAL_HINTS: dict[str, str] = {
    "anthropic": "check ANTHROPIC_API_KEY and the key's workspace permissions",
    "bedrock": "check the AWS credentials (environment, profile or the pod's IAM role) and "
    "that the role may call bedrock:InvokeModel on this model in this region",
    "vertex": "check Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS or the "
    "pod's Workload Identity) and that the account has roles/aiplatform.user in the project",
}


class ModelClient(Protocol):
    def create(self, request: ModelRequest) -> dict[str, Any]:
        """The response as the API's JSON (`content`, `stop_reason`, `usage`, ...).
        Raises ModelError subclasses only."""
        ...


@dataclass(frozen=True, slots=True)
class AwsKeys:
    """Static AWS credentials, when the deployment gives keys rather than a role."""

    access_key: str
    secret_key: str
    session_token: str | None = None


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """Where a request goes: the provider, its id for the model, and the client that calls it.
    The fallback is a second route, taken when the first stays unavailable."""

    provider: str
    model: str
    client: ModelClient


def _encode(request: ModelRequest) -> bytes:
    return jsontext.dumps(
        {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "system": request.system,
            "tools": request.tools,
            "messages": request.messages,
            "metadata": {"user_id": request.job_id},
        }
    )


class AnthropicModel:
    """The Claude API by default; `bedrock()` and `vertex()` build the cloud variants. Every
    client is built with the SDK's retries off."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 120.0,
        client: Any = None,
        provider: Provider = "anthropic",
    ) -> None:
        if client is None:
            import anthropic  # 1-4 s to import: only processes that call the model pay for it

            client = anthropic.Anthropic(
                api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout
            )
        self._client: Any = client
        self.provider: Provider = provider

    @classmethod
    def bedrock(
        cls,
        *,
        region: str,
        base_url: str | None = None,
        timeout: float = 120.0,
        keys: AwsKeys | None = None,
    ) -> AnthropicModel:
        """Claude on Amazon Bedrock. Without `keys`, credentials come from boto3's chain
        (shared profile, web identity as with EKS IRSA, container or instance role), resolved
        and refreshed by botocore when a request is signed."""
        import anthropic

        client = anthropic.AnthropicBedrock(
            aws_region=region,
            aws_access_key=keys.access_key if keys else None,
            aws_secret_key=keys.secret_key if keys else None,
            aws_session_token=keys.session_token if keys else None,
            base_url=base_url,
            max_retries=0,
            timeout=timeout,
        )
        return cls(client=client, provider="bedrock")

    @classmethod
    def vertex(
        cls,
        *,
        region: str,
        project: str,
        base_url: str | None = None,
        timeout: float = 120.0,
        credentials_file: Path | None = None,
    ) -> AnthropicModel:
        """Claude on Google Vertex AI. Credentials are `credentials_file` (a service-account
        key or workload-identity-federation file, as GOOGLE_APPLICATION_CREDENTIALS names
        one) or else Application Default Credentials (GKE Workload Identity, the metadata
        server), loaded on the first request and refreshed by google-auth before expiry."""
        import anthropic

        from bot.agent.cloud_credentials import google_credentials

        credentials = google_credentials(credentials_file) if credentials_file else None
        client = anthropic.AnthropicVertex(
            region=region,
            project_id=project,
            credentials=credentials,
            base_url=base_url,
            max_retries=0,
            timeout=timeout,
        )
        return cls(client=client, provider="vertex")

    def create(self, request: ModelRequest) -> dict[str, Any]:
        import anthropic

        try:
            if self.provider in BODY_VERSIONS:
                answer = self._create_on_cloud(request)
            else:
                # The body is encoded here, once, by the C JSON encoder, and handed to the SDK
                # as bytes for `POST /v1/messages`: `messages.create` would first walk and copy
                # every block of the conversation in Python (its request preparation), which
                # grows with the conversation and was the dearest part of a long
                # investigation's step. Everything else is the SDK's own (auth, headers,
                # timeout, status errors); `cast_to=object` hands back the response JSON as it
                # came, which is what the loop stores.
                answer = self._client.post("/v1/messages", cast_to=object, content=_encode(request))
        except anthropic.APIStatusError as exc:
            raise translate_status(
                exc.status_code, _message(exc), exc.response.headers, provider=self.provider
            ) from exc
        except anthropic.APITimeoutError as exc:
            raise ModelRetryable("model API timed out") from exc
        except anthropic.APIConnectionError as exc:
            raise ModelRetryable(f"model API unreachable: {type(exc).__name__}") from exc
        except anthropic.AnthropicError as exc:
            raise ModelError(f"model API call failed: {type(exc).__name__}: {exc}") from exc
        except ValueError as exc:  # a JSON content type with a body that is not JSON
            raise ModelRetryable("model API answered with a body that is not JSON") from exc
        except Exception as exc:
            # Bedrock signs and Vertex fetches a token before the request leaves; their
            # credential errors come from botocore and google-auth, not the SDK
            translated = credential_error(self.provider, exc)
            if translated is None:
                raise
            raise translated from exc
        if not isinstance(answer, dict) or not isinstance(answer.get("content"), list):
            # a non-JSON answer comes back as its text
            raise ModelRetryable("model API answered without a `content` list")
        return answer

    def _create_on_cloud(self, request: ModelRequest) -> Any:
        """Bedrock and Vertex: the SDK's own request preparation, which moves the model id into
        the path and sets the body's `anthropic_version` (it reads the body as an object, so
        the pre-encoded bytes above would bypass it)."""
        create: Any = self._client.messages.with_raw_response.create
        raw = create(
            model=request.model,
            max_tokens=request.max_tokens,
            system=request.system,
            tools=request.tools,
            messages=request.messages,
            metadata={"user_id": request.job_id},
            extra_body={"anthropic_version": BODY_VERSIONS[self.provider]},
        )
        return raw.http_response.json()

    def close(self) -> None:
        self._client.close()


def translate_status(
    status: int, message: str, headers: Any, *, provider: str = "anthropic"
) -> ModelError:
    """Map an HTTP status from the Messages API (or Bedrock's and Vertex's, which use the same
    codes for the same causes) to what the loop does next."""
    if status in (401, 403):
        return ModelAuthFailed(
            f"model API refused the credentials (HTTP {status}: {message}); "
            + _CREDENTIAL_HINTS.get(provider, _CREDENTIAL_HINTS["anthropic"]),
            status=status,
        )
    if status == 413 or (status == 400 and "too long" in message.lower()):
        return ContextTooLarge(f"model context too large (HTTP {status}: {message})", status=status)
    if status == 429 or status == 408 or status >= 500:
        return ModelRetryable(
            f"model API HTTP {status}: {message}", status=status, retry_after=_retry_after(headers)
        )
    return ModelRejected(
        f"model API rejected the request (HTTP {status}: {message})", status=status
    )


def _retry_after(headers: Any) -> float | None:
    return parse_retry_after(headers.get("retry-after") if headers is not None else None)


def credential_error(provider: str, exc: Exception) -> ModelError | None:
    """A botocore or google-auth credential failure as a `ModelError`; None for anything else.
    A token endpoint that is down is retryable; credentials that are missing or refused are
    for an admin to fix."""
    hint = _CREDENTIAL_HINTS.get(provider, "")
    name = f"{type(exc).__module__}.{type(exc).__name__}"
    if provider == "bedrock":
        from botocore.exceptions import BotoCoreError, NoCredentialsError

        if isinstance(exc, NoCredentialsError) or (
            isinstance(exc, RuntimeError) and "AWS credentials" in str(exc)
        ):
            return ModelAuthFailed(f"no AWS credentials found ({name}); {hint}")
        if isinstance(exc, BotoCoreError):
            return ModelRetryable(f"AWS credentials could not be resolved now ({name}: {exc})")
    if provider == "vertex":
        from google.auth import exceptions as gauth

        if isinstance(exc, gauth.TransportError) or (
            isinstance(exc, gauth.RefreshError) and getattr(exc, "retryable", False)
        ):
            return ModelRetryable(f"Google token endpoint unavailable ({name}: {exc})")
        if isinstance(exc, gauth.GoogleAuthError):
            return ModelAuthFailed(f"Google credentials failed ({name}: {exc}); {hint}")
    return None


def _message(exc: Any) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if body.get("message"):  # Bedrock: {"message": "..."} and the type in a header
            return str(body["message"])
    return str(exc.message)
