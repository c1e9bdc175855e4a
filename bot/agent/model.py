"""The model behind one narrow interface: `ModelClient.create(request) -> dict`.

`AnthropicModel` is the real adapter (the SDK's own retries off; one policy lives in
`retry.py`); every SDK exception is translated here, once, into `bot.agent.errors`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from bot.agent.errors import (
    ContextTooLarge,
    ModelAuthFailed,
    ModelError,
    ModelRejected,
    ModelRetryable,
)
from core.retry import parse_retry_after


@dataclass(frozen=True, slots=True)
class ModelRequest:
    model: str
    max_tokens: int
    system: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    job_id: str


class ModelClient(Protocol):
    def create(self, request: ModelRequest) -> dict[str, Any]:
        """The response as the API's JSON (`content`, `stop_reason`, `usage`, ...).
        Raises ModelError subclasses only."""
        ...


class AnthropicModel:
    def __init__(
        self, *, api_key: str, base_url: str | None = None, timeout: float = 120.0
    ) -> None:
        import anthropic  # 1-4 s to import: only processes that call the model pay for it

        self._client = anthropic.Anthropic(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout
        )

    def create(self, request: ModelRequest) -> dict[str, Any]:
        import anthropic

        # The body is encoded here, once, by the C JSON encoder, and handed to the SDK as bytes
        # for `POST /v1/messages`: `messages.create` would first walk and copy every block of
        # the conversation in Python (its request preparation), which grows with the
        # conversation and was the dearest part of a long investigation's step. Everything
        # else is the SDK's own (auth, headers, timeout, status errors); `cast_to=object`
        # hands back the response JSON as it came, which is what the loop stores.
        body = json.dumps(
            {
                "model": request.model,
                "max_tokens": request.max_tokens,
                "system": request.system,
                "tools": request.tools,
                "messages": request.messages,
                "metadata": {"user_id": request.job_id},
            },
            separators=(",", ":"),
        ).encode()
        try:
            answer: Any = self._client.post("/v1/messages", cast_to=object, content=body)
        except anthropic.APIStatusError as exc:
            raise translate_status(exc.status_code, _message(exc), exc.response.headers) from exc
        except anthropic.APITimeoutError as exc:
            raise ModelRetryable("model API timed out") from exc
        except anthropic.APIConnectionError as exc:
            raise ModelRetryable(f"model API unreachable: {type(exc).__name__}") from exc
        except anthropic.AnthropicError as exc:
            raise ModelError(f"model API call failed: {type(exc).__name__}: {exc}") from exc
        except ValueError as exc:  # a JSON content type with a body that is not JSON
            raise ModelRetryable("model API answered with a body that is not JSON") from exc
        if not isinstance(answer, dict) or not isinstance(answer.get("content"), list):
            # a non-JSON answer comes back as its text
            raise ModelRetryable("model API answered without a `content` list")
        return answer

    def close(self) -> None:
        self._client.close()


def translate_status(status: int, message: str, headers: Any) -> ModelError:
    """Map an HTTP status from the Messages API to what the loop does next."""
    if status in (401, 403):
        return ModelAuthFailed(
            f"model API refused the credentials (HTTP {status}: {message}); "
            "check ANTHROPIC_API_KEY and the key's workspace permissions",
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


def _message(exc: Any) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    return str(exc.message)
