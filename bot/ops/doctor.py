"""What `steadfast doctor` checks beyond the integrations: the database, Slack and the model
API, each with the real client, each returning `Health` rows and never raising.

Required (a failure makes doctor exit 1): the database always; Slack and the model whenever
their credentials are configured. A dependency with no credentials is "not configured" and
skipped, as Vault and Kubernetes are, because each process needs only some of them (the bot
needs Slack, the worker the model).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.settings import Settings
from core.scrubber import Scrubber
from integrations.health import Health, timed

# The bot scopes slack/manifest.yaml asks for (tests/ops/test_doctor.py checks the two agree;
# the manifest is not shipped in the image, so the running process carries this copy).
MANIFEST_SCOPES = frozenset(
    {
        "app_mentions:read",
        "chat:write",
        "chat:write.public",
        "reactions:write",
        "commands",
        "channels:history",
        "groups:history",
        "users:read",
        "usergroups:read",
    }
)


def skipped(dependency: str, why: str) -> Health:
    return Health(dependency, True, None, "none", f"not configured (skipped): {why}")


# --- database ----------------------------------------------------------------------------------
def database_check(settings: Settings, scrubber: Scrubber) -> Health:
    """Reachable, and the schema at the revision this version needs. Never migrates, and
    never creates a SQLite file that is not there yet."""
    from bot.store.migrate import HEAD_REVISION  # sqlalchemy/alembic load only here
    from bot.store.store import Store

    url = settings.database_url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        path = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
        if not path.exists():
            detail = f"SQLite file {path} does not exist yet; the first command creates it"
            return Health("database", True, None, "none", detail, degraded=True)

    def probe() -> tuple[bool, str, str]:
        store = Store(url, pool_size=1)
        try:
            store.ping()
            revision = store.revision()
        finally:
            store.close()
        backend = "PostgreSQL" if url.startswith("postgres") else "SQLite"
        if revision == HEAD_REVISION:
            return True, "none", f"{backend}, schema at {revision} (current)"
        fix = (
            "run `steadfast db upgrade`"
            if backend == "PostgreSQL"
            else "the next command migrates it"
        )
        return (
            False,
            "none",
            (
                f"{backend} schema at {revision or 'none (empty)'}, this version needs "
                f"{HEAD_REVISION}: {fix}"
            ),
        )

    return timed("database", probe, scrubber)


# --- Slack -------------------------------------------------------------------------------------
def slack_checks(
    settings: Settings, channels: list[str], scrubber: Scrubber, *, timeout: int = 10
) -> list[Health]:
    """`auth.test` (the token works), the scopes Slack says it granted (`x-oauth-scopes`)
    against the manifest's, and the bot's membership of every channel the policy maps."""
    if settings.slack_bot_token is None:
        return [skipped("slack", "SLACK_BOT_TOKEN is unset (only `steadfast bot` needs it)")]
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError, SlackClientError

    client = WebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=timeout,
    )

    def call(method: str, **kwargs: Any) -> Any:
        try:
            return client.api_call(method, http_verb="GET", params=kwargs or None)
        except SlackApiError as exc:
            error = exc.response.get("error", "unknown")
            raise _SlackRefused(method, str(error)) from exc
        except SlackClientError as exc:
            raise _SlackRefused(method, f"{type(exc).__name__}: {exc}") from exc

    granted: set[str] = set()

    def auth() -> tuple[bool, str, str]:
        response = call("auth.test")
        headers = {str(k).lower(): v for k, v in (response.headers or {}).items()}
        header = headers.get("x-oauth-scopes", "")
        if isinstance(header, list):  # some transports keep repeated headers as lists
            header = ",".join(header)
        granted.update(s.strip() for s in str(header).split(",") if s.strip())
        who = f"bot {response.get('user_id')} in team {response.get('team_id')}"
        missing = sorted(MANIFEST_SCOPES - granted)
        if missing:
            return (
                False,
                who,
                (
                    f"token lacks scopes {', '.join(missing)} (slack/manifest.yaml asks for them): "
                    "add them to the app and reinstall it"
                ),
            )
        extra = sorted(granted - MANIFEST_SCOPES)
        if extra:
            return True, who, f"ok; also granted {', '.join(extra)}, which Steadfast never uses"
        return True, who, "ok; every scope of the manifest is granted"

    rows = [timed("slack", _refusals(auth), scrubber)]
    if rows[0].healthy:
        for channel in channels:

            def member(channel: str = channel) -> tuple[bool, str, str]:
                info = call("conversations.info", channel=channel)["channel"]
                name = f"#{info.get('name', channel)}"
                if info.get("is_member"):
                    return True, "bot token", f"{name}: the bot is a member"
                return (
                    False,
                    "bot token",
                    (
                        f"{name}: the bot is not a member, so it cannot read replies there; "
                        f"invite it with /invite @steadfast in {name}"
                    ),
                )

            rows.append(timed(f"slack:{channel}", _refusals(member), scrubber))
    if settings.slack_app_token is not None:
        rows.append(timed("slack:socket-mode", _refusals(_app_token_probe(settings)), scrubber))
    return rows


def _app_token_probe(settings: Settings) -> Any:
    """Socket Mode's app-level token: `apps.connections.open` hands out a WebSocket URL only to
    a valid `xapp-` token of an app with Socket Mode on (the URL is not connected here)."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError, SlackClientError

    assert settings.slack_app_token is not None
    token = settings.slack_app_token.get_secret_value()

    def probe() -> tuple[bool, str, str]:
        client = WebClient(token=token, base_url=settings.slack_api_url, timeout=10)
        try:
            client.apps_connections_open(app_token=token)
        except SlackApiError as exc:
            raise _SlackRefused("apps.connections.open", str(exc.response.get("error"))) from exc
        except SlackClientError as exc:
            raise _SlackRefused("apps.connections.open", type(exc).__name__) from exc
        return True, "app token", "ok; the app-level token can open a Socket Mode connection"

    return probe


class _SlackRefused(Exception):
    def __init__(self, method: str, error: str) -> None:
        super().__init__(f"{method}: {error}")
        self.method = method
        self.error = error


_SLACK_FIXES = {
    "invalid_auth": "the token is not valid: copy the Bot User OAuth Token (xoxb-…) again",
    "not_authed": "no token was sent: set SLACK_BOT_TOKEN",
    "account_inactive": "the token was revoked or the app uninstalled: reinstall the app",
    "token_revoked": "the token was revoked: reinstall the app and set the new token",
    "channel_not_found": "no such channel visible to the bot: check the id in the policy's "
    "tenants.<name>.channels, and invite the bot if the channel is private",
    "missing_scope": "the token lacks a scope this call needs: reinstall the app from "
    "slack/manifest.yaml",
    "not_allowed_token_type": "SLACK_APP_TOKEN must be the app-level token (xapp-…) with the "
    "connections:write scope, not a bot token",
}


def _refusals(probe: Any) -> Any:
    def run() -> tuple[bool, str, str]:
        try:
            result: tuple[bool, str, str] = probe()
        except _SlackRefused as exc:
            fix = _SLACK_FIXES.get(exc.error, "see the Slack API docs for this error")
            return False, "bot token", f"Slack {exc.method} failed ({exc.error}): {fix}"
        return result

    return run


# --- the model API -----------------------------------------------------------------------------
def model_check(settings: Settings, scrubber: Scrubber, *, timeout: float = 10.0) -> Health:
    """The key is valid and the configured model exists (`models.retrieve`)."""
    if settings.model_provider != "anthropic":
        # Bedrock and Vertex have no free lookup on their runtime endpoints: a probe would be
        # a billed model call, and their credentials are the cloud role's to check
        return skipped(
            "model",
            f"the model provider is {settings.model_provider}; its credentials come from the "
            "cloud's own chain (docs/model-providers.md)",
        )
    if settings.anthropic_api_key is None:
        return skipped("model", "ANTHROPIC_API_KEY is unset (only workers need it)")
    import anthropic  # 1-4 s to import: only when a key is configured

    client = anthropic.Anthropic(
        api_key=settings.anthropic_api_key.get_secret_value(),
        base_url=settings.anthropic_base_url,
        max_retries=0,
        timeout=timeout,
    )

    def probe() -> tuple[bool, str, str]:
        try:
            info = client.models.retrieve(settings.model)
        except anthropic.AuthenticationError:
            return False, "api key", "the API key was refused (401): check ANTHROPIC_API_KEY"
        except anthropic.PermissionDeniedError:
            return (
                False,
                "api key",
                ("the API key may not use this API (403): check the key's workspace permissions"),
            )
        except anthropic.NotFoundError:
            return (
                False,
                "api key",
                (
                    f"model {settings.model!r} is not available to this key: set STEADFAST_MODEL "
                    "to a model the key can use"
                ),
            )
        except anthropic.APIStatusError as exc:
            return False, "api key", f"the model API answered HTTP {exc.status_code}"
        except anthropic.APIConnectionError as exc:
            where = settings.anthropic_base_url or "the Anthropic API"
            return False, "api key", f"cannot reach {where}: {type(exc).__name__}"
        return True, "api key", f"model {info.id} available"

    try:
        return timed("model", probe, scrubber)
    finally:
        client.close()
