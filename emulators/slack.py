"""A Slack stand-in: the Web API methods Steadfast calls, a Socket Mode WebSocket server, and a
record of every message per channel and thread.

Web API: form or JSON bodies, `{"ok": false, "error": ...}` envelopes, 429 with `Retry-After`
through the shared fault knobs. Block Kit limits are enforced (50 blocks, 3,000 characters per
section text) so a renderer that breaks them fails here as it would against Slack.
`message.metadata` is stored and returned by `conversations.history/replies` only when
`include_all_metadata=true`, as Slack does.

Duplicate posts: every posted message whose metadata carries `event_payload.outbox_key` is
counted per key; `duplicates()` lists keys posted more than once.

Channels: scenario `slack.channels` ({id: {name, bot_member}}) makes the workspace closed, as
Slack is: posting to an unknown id answers `channel_not_found`, to a channel the bot has not
joined (`bot_member: false`) `not_in_channel`. Without that section every channel id exists and
the bot is in all of them (tests that invent channel ids rely on this). An unknown method answers
HTTP 200 `{"ok": false, "error": "unknown_method"}`, a wrong token `invalid_auth` (when
`slack.bot_token` is set), and the `429` fault `ratelimited` with `Retry-After`.

`python -m emulators.slack --scenario FILE --port N` serves it and prints its URL.
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Self

from emulators.base import Emulator, Fault, Request, Response, load_scenario, serve_forever
from emulators.slack_socket import SocketModeServer

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_TEXT = 40_000
_JSON_ARGS = ("blocks", "metadata", "attachments", "view")
# What an install from slack/manifest.yaml grants (tests/emulators check the two agree);
# scenario `slack.scopes` replaces it to play an install that lacks some.
MANIFEST_SCOPES = (
    "app_mentions:read",
    "chat:write",
    "chat:write.public",
    "reactions:write",
    "commands",
    "channels:history",
    "groups:history",
    "users:read",
    "usergroups:read",
)


class SlackEmulator(Emulator):
    name = "slack"

    def __init__(self, scenario: dict[str, Any] | None = None, *, port: int = 0) -> None:
        super().__init__(scenario, port=port)
        conf: dict[str, Any] = dict(self.scenario.get("slack") or {})
        self.team_id: str = conf.get("team_id", "T0STEADY")
        self.bot_user_id: str = conf.get("bot_user_id", "U0BOT")
        self.bot_id: str = conf.get("bot_id", "B0BOT")
        self.bot_token: str | None = conf.get("bot_token")
        self.scopes: list[str] = list(conf.get("scopes", MANIFEST_SCOPES))
        self.users: dict[str, dict[str, Any]] = dict(conf.get("users") or {})
        self.usergroups: dict[str, list[str]] = {
            k: list(v) for k, v in (conf.get("usergroups") or {}).items()
        }
        # None: an open workspace where every channel id exists and the bot is in it
        self.channels: dict[str, dict[str, Any]] | None = (
            {str(k): dict(v or {}) for k, v in conf["channels"].items()}
            if conf.get("channels") is not None
            else None
        )
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self.reactions: list[dict[str, str]] = []
        self.ephemerals: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.posts_by_key: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        # seconds to hold the answer to chat.postMessage *after* the message is stored: lets a
        # test kill the sender between "Slack posted it" and "the sender recorded that"
        self.post_ack_delay = 0.0
        self._ts = itertools.count(1)
        self._state_lock = threading.RLock()
        self.socket = SocketModeServer()
        for method, handler in {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.getPermalink": self._permalink,
            "chat.postEphemeral": self._post_ephemeral,
            "reactions.add": self._reactions_add,
            "conversations.replies": self._replies,
            "conversations.history": self._history,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroup_users,
            "apps.connections.open": self._connections_open,
            "conversations.info": self._conversations_info,
        }.items():
            self.route("*", f"/api/{method.replace('.', '[.]')}", self._api(method, handler))
        # after the known methods: Slack answers any other method name with HTTP 200
        self.route("*", "/api/(?P<method>[^/]+)", self._unknown_method)
        self.route("POST", "/_respond/(?P<rid>[^/]+)", self._respond)

    # --- lifecycle ------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        """What slack_sdk's `base_url` should be (trailing slash matters)."""
        return f"{self.url}/api/"

    def start(self) -> Self:
        super().start()
        self.socket.start()
        return self

    def stop(self) -> None:
        self.socket.stop()
        super().stop()

    def __enter__(self) -> Self:
        return self.start()

    # --- in-process accessors -------------------------------------------------------------
    def messages(self, channel: str, thread_ts: str | None = None) -> list[dict[str, Any]]:
        """Messages in a channel (top level only), or in one thread (parent first)."""
        with self._state_lock:
            rows = list(self._messages.get(channel, []))
        if thread_ts is None:
            return [m for m in rows if m.get("thread_ts") in (None, m["ts"])]
        return [m for m in rows if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts]

    def all_messages(self) -> list[dict[str, Any]]:
        with self._state_lock:
            return [m for rows in self._messages.values() for m in rows]

    def duplicates(self) -> dict[str, int]:
        with self._state_lock:
            return {k: n for k, n in self.posts_by_key.items() if n > 1}

    def user_message(
        self, channel: str, user: str, text: str, *, thread_ts: str | None = None
    ) -> dict[str, Any]:
        """A human writes in Slack; returns the stored message (use it to build events)."""
        return self._store_message(
            {"type": "message", "user": user, "text": text, "thread_ts": thread_ts}, channel
        )

    def mention_event(self, message: dict[str, Any]) -> dict[str, Any]:
        """The `app_mention` event Slack sends for a stored human message."""
        event = {
            "type": "app_mention",
            "user": message["user"],
            "text": message["text"],
            "ts": message["ts"],
            "channel": message["channel"],
            "event_ts": message["ts"],
        }
        if message.get("thread_ts"):
            event["thread_ts"] = message["thread_ts"]
        return event

    def message_event(self, message: dict[str, Any]) -> dict[str, Any]:
        event = dict(self.mention_event(message), type="message", channel_type="channel")
        for key in ("bot_id", "subtype"):
            if message.get(key):
                event[key] = message[key]
        return event

    def state(self) -> dict[str, Any]:
        with self._state_lock:
            return {
                "requests": len(self.requests),
                "calls": dict(self.calls),
                "messages": {c: list(rows) for c, rows in self._messages.items()},
                "reactions": list(self.reactions),
                "ephemerals": list(self.ephemerals),
                "views": dict(self.views),
                "duplicates": self.duplicates(),
                "socket": self.socket.describe(),
            }

    # --- plumbing -------------------------------------------------------------------------
    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.mode == "429":
            return Response(
                429,
                {"ok": False, "error": "ratelimited"},
                {"Retry-After": f"{max(1, round(fault.retry_after))}"},
            )
        if fault.mode == "expired_token":
            return Response(200, {"ok": False, "error": "token_expired"})
        return Response(int(fault.mode), {"ok": False, "error": "fatal_error"})

    def _api(self, method: str, handler: Any) -> Any:
        def serve(request: Request) -> Response:
            try:
                args = self._args(request)
            except _ApiError as exc:
                return Response(200, {"ok": False, "error": str(exc)})
            auth = request.headers.get("authorization", "")
            token = auth.removeprefix("Bearer ").strip() or args.get("token", "")
            if not token:
                return Response(200, {"ok": False, "error": "not_authed"})
            if method == "apps.connections.open":
                if not token.startswith("xapp-"):
                    return Response(200, {"ok": False, "error": "invalid_auth"})
            elif self.bot_token is not None and token != self.bot_token:
                return Response(200, {"ok": False, "error": "invalid_auth"})
            with self._state_lock:
                self.calls[method] += 1
            # Slack names the token's granted scopes on every answer to a bot token
            headers = {} if method == "apps.connections.open" else self._scope_header()
            try:
                body = handler(args)
            except _ApiError as exc:
                return Response(200, {"ok": False, "error": str(exc)}, headers=headers)
            return Response(200, {"ok": True, **body}, headers=headers)

        return serve

    @staticmethod
    def _unknown_method(request: Request) -> Response:
        body = {"ok": False, "error": "unknown_method", "req_method": request.params["method"]}
        return Response(200, body)

    def _check_channel(self, channel: str, *, posting: bool) -> None:
        """Slack's answers for a channel that does not exist or that the bot has not joined."""
        if not channel:
            raise _ApiError("channel_not_found")
        if self.channels is None:
            return
        info = self.channels.get(channel)
        if info is None:
            raise _ApiError("channel_not_found")
        if not info.get("bot_member", True):
            raise _ApiError("not_in_channel" if posting else "channel_not_found")

    @staticmethod
    def _args(request: Request) -> dict[str, Any]:
        args: dict[str, Any] = {k: v[-1] for k, v in request.query.items()}
        ctype = request.headers.get("content-type", "")
        if request.body:
            if "json" in ctype:
                args.update(request.json() or {})
            else:
                args.update(request.form())
        for key in _JSON_ARGS:
            if isinstance(args.get(key), str):
                try:
                    args[key] = json.loads(args[key])
                except ValueError as exc:
                    raise _ApiError(f"invalid_{key}") from exc
        return args

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _store_message(self, message: dict[str, Any], channel: str) -> dict[str, Any]:
        with self._state_lock:
            message = {k: v for k, v in message.items() if v is not None}
            message.update(channel=channel, ts=self._next_ts())
            self._messages.setdefault(channel, []).append(message)
            parent = message.get("thread_ts")
            if parent:
                for m in self._messages[channel]:
                    if m["ts"] == parent:
                        m["reply_count"] = m.get("reply_count", 0) + 1
            return message

    def _find(self, channel: str, ts: str) -> dict[str, Any]:
        for m in self._messages.get(channel, []):
            if m["ts"] == ts:
                return m
        raise _ApiError("message_not_found")

    @staticmethod
    def _check_content(args: dict[str, Any]) -> None:
        blocks = args.get("blocks")
        if not args.get("text") and not blocks:
            raise _ApiError("no_text")
        if len(str(args.get("text") or "")) > MAX_TEXT:
            raise _ApiError("msg_too_long")
        if blocks is not None:
            if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
                raise _ApiError("invalid_blocks")
            for block in blocks:
                text = (block.get("text") or {}).get("text", "") if block.get("text") else ""
                if block.get("type") == "section" and len(text) > MAX_SECTION_TEXT:
                    raise _ApiError("invalid_blocks")

    @staticmethod
    def _public(message: dict[str, Any], include_metadata: bool) -> dict[str, Any]:
        out = dict(message)
        if not include_metadata:
            out.pop("metadata", None)
        return out

    # --- Web API methods ------------------------------------------------------------------
    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://emulated.slack.com/",
            "team": "Steadfast",
            "user": "steadfast",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
        }

    def _scope_header(self) -> dict[str, str]:
        return {"x-oauth-scopes": ",".join(self.scopes)}

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if not channel:
            raise _ApiError("channel_not_found")
        info = None if self.channels is None else self.channels.get(channel)
        if self.channels is not None and info is None:
            raise _ApiError("channel_not_found")
        member = True if info is None else bool(info.get("bot_member", True))
        name = channel.lower() if info is None else str(info.get("name") or channel.lower())
        return {"channel": {"id": channel, "name": name, "is_channel": True, "is_member": member}}

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        self._check_channel(channel, posting=True)
        self._check_content(args)
        message = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "text": args.get("text", ""),
            "blocks": args.get("blocks"),
            "thread_ts": args.get("thread_ts") or None,
            "metadata": args.get("metadata"),
        }
        with self._state_lock:
            stored = self._store_message(message, channel)
            key = ((args.get("metadata") or {}).get("event_payload") or {}).get("outbox_key")
            if key:
                self.posts_by_key[key] += 1
        if self.post_ack_delay:
            time.sleep(self.post_ack_delay)
        return {"channel": channel, "ts": stored["ts"], "message": stored}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel", ""), args.get("ts", "")
        self._check_channel(channel, posting=True)
        self._check_content(args)
        with self._state_lock:
            message = self._find(channel, ts)
            for key in ("text", "blocks", "metadata"):
                if key in args:
                    message[key] = args[key]
            message["edits"] = message.get("edits", 0) + 1
        return {"channel": channel, "ts": ts, "text": message.get("text", "")}

    def _permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel", ""), args.get("message_ts", "")
        with self._state_lock:
            message = self._find(channel, ts)
        link = f"https://emulated.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        if message.get("thread_ts") and message["thread_ts"] != ts:
            link += f"?thread_ts={message['thread_ts']}&cid={channel}"
        return {"channel": channel, "permalink": link}

    def _post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        self._check_channel(str(args.get("channel") or ""), posting=True)
        self._check_content(args)
        with self._state_lock:
            ts = self._next_ts()
            self.ephemerals.append(
                {"channel": args.get("channel"), "user": args.get("user"), "ts": ts, **args}
            )
        return {"message_ts": ts}

    def _reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts, name = args.get("channel", ""), args.get("timestamp", ""), args.get("name")
        with self._state_lock:
            self._find(channel, ts)
            row = {"channel": channel, "ts": ts, "name": str(name)}
            if row in self.reactions:
                raise _ApiError("already_reacted")
            self.reactions.append(row)
        return {}

    def _replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel", ""), args.get("ts", "")
        meta = str(args.get("include_all_metadata", "")).lower() in ("true", "1")
        self._check_channel(channel, posting=False)
        with self._state_lock:
            self._find(channel, ts)
            rows = self.messages(channel, ts)
        return {"messages": [self._public(m, meta) for m in rows], "has_more": False}

    def _history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel", "")
        meta = str(args.get("include_all_metadata", "")).lower() in ("true", "1")
        self._check_channel(channel, posting=False)
        rows = list(reversed(self.messages(channel)))  # Slack: newest first
        limit = int(args.get("limit") or 100)
        return {"messages": [self._public(m, meta) for m in rows[:limit]], "has_more": False}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user, view = args.get("user_id"), args.get("view")
        if not user or not isinstance(view, dict):
            raise _ApiError("invalid_arguments")
        if len(view.get("blocks") or []) > 100:
            raise _ApiError("invalid_arguments")
        with self._state_lock:
            self.views[str(user)] = view
        return {"view": {"id": f"V{user}", **view}}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = args.get("user", "")
        if user not in self.users and user != self.bot_user_id:
            raise _ApiError("user_not_found")
        info = self.users.get(user) or {"name": "steadfast", "is_bot": True}
        return {"user": {"id": user, "team_id": self.team_id, **info}}

    def _usergroup_users(self, args: dict[str, Any]) -> dict[str, Any]:
        group = args.get("usergroup", "")
        if group not in self.usergroups:
            raise _ApiError("no_such_subteam")
        return {"users": list(self.usergroups[group])}

    def _connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.socket.url}

    def _respond(self, request: Request) -> Response:
        with self._state_lock:
            self.responses.append({"id": request.params["rid"], **(request.json() or {})})
        return Response(200, "ok")

    def control(self, request: Request) -> Response:
        """Adds `POST /_control/slack` {"post_ack_delay": s, "disconnect": "polite"|"abrupt",
        "user_messages": {"channel", "user", "texts": [...]}} (the last returns the stored
        messages, for driving an emulator in another process)."""
        if request.path != "/_control/slack":
            return super().control(request)
        body = request.json() or {}
        if "user_messages" in body:
            spec = body["user_messages"]
            stored = [
                self.user_message(spec["channel"], spec["user"], text) for text in spec["texts"]
            ]
            return Response(200, {"messages": stored})
        if "post_ack_delay" in body:
            self.post_ack_delay = float(body["post_ack_delay"])
        if body.get("disconnect"):
            self.socket.disconnect(polite=body["disconnect"] == "polite")
        return Response(200, {"post_ack_delay": self.post_ack_delay})

    def response_url(self, rid: str = "r1") -> str:
        return f"{self.url}/_respond/{rid}"


class _ApiError(Exception):
    """A Slack `{"ok": false, "error": ...}` answer."""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m emulators.slack",
        description="Serve the Slack Web API and Socket Mode emulator on 127.0.0.1.",
    )
    parser.add_argument("--scenario", type=Path, default=None, help="scenario YAML")
    parser.add_argument("--port", type=int, default=0, help="Web API port (0: any free port)")
    parser.add_argument("--bot-token", default=None, help="the only bot token accepted")
    args = parser.parse_args(argv)
    scenario = load_scenario(args.scenario)
    if args.bot_token:
        scenario.setdefault("slack", {})["bot_token"] = args.bot_token
    serve_forever(SlackEmulator(scenario, port=args.port))


if __name__ == "__main__":
    main()
