"""The console as a WSGI application: server-rendered, read-only, opened by signed links.

Routes (every page needs `?t=<token>`; see tokens.py for what each scope opens):
  GET /jobs/<id>                 the job page: ticket, handoff, cost, versions, timeline
  GET /jobs/<id>/events?after=N  the timeline entries after N, as HTML, for the page's poller
  GET /                          the tenant's jobs, with status/verdict filters and a search
  GET /policy?command=...        the policy playground: the gate's decision for the tenant
  GET /static/<file>             the stylesheet and the poller (no CDN, no fonts)
  GET /healthz                   200 when the database answers

There is no POST route: nothing on these pages changes a job (operators act in Slack and the
CLI, where they are authorised and audited). Every refusal is a 403 and a log line that says why
and never holds the token; the access log never holds query strings.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote

from jinja2 import Environment, PackageLoader, select_autoescape

from bot.console.errors import AccessDenied
from bot.console.tokens import Grant, TokenSigner
from bot.console.views import Views, age
from bot.errors import JobNotFound, StoreError
from bot.model import Job, JobStatus
from bot.store.store import Store
from policy.judge import CommandRun, Judge

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# No inline script or style anywhere: the CSP allows only this origin's files.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    ("Content-Security-Policy", CSP),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
]
STATIC = {"console.css": "text/css; charset=utf-8", "console.js": "text/javascript; charset=utf-8"}
MAX_COMMAND_CHARS = 4000
MAX_SEARCH_CHARS = 200
LIST_LIMIT = 200
VERDICTS = ("resolved", "inconclusive", "escalated")


@dataclass
class Response:
    status: str
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    cache: str = "no-store"  # pages carry tokens in their links: never cached


class ConsoleApp:
    """`__call__` is the WSGI entry point. `judge` is the one judge every tool call passes
    (`sandbox.gate.GateJudge`), so the playground answers exactly as a job would."""

    def __init__(self, store: Store, signer: TokenSigner, views: Views, judge: Judge) -> None:
        self.store = store
        self.signer = signer
        self.views = views
        self.judge = judge
        self.templates = Environment(
            loader=PackageLoader("bot.console", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO") or "/")
        method = str(environ.get("REQUEST_METHOD") or "GET")
        query = {k: v[0] for k, v in parse_qs(str(environ.get("QUERY_STRING") or "")).items()}
        try:
            if method not in ("GET", "HEAD"):
                response = self._page("405 Method Not Allowed", "error.html", message="Read-only.")
            else:
                response = self._route(path, query)
        except AccessDenied as exc:
            log.warning(
                "console: 403 for %s from %s: %s", path, environ.get("REMOTE_ADDR", "?"), exc
            )
            response = self._page(
                "403 Forbidden",
                "error.html",
                message="This link is not valid for this page, or it has expired. "
                "Ask for a new one in Slack (/steadfast console).",
            )
        except StoreError as exc:
            log.error("console: the database failed for %s: %s", path, exc)
            response = self._page("503 Service Unavailable", "error.html", message="Try again.")
        except Exception:
            # a bug here must not become the server's own error page, without these headers
            log.exception("console: failed to render %s", path)
            response = self._page("500 Internal Server Error", "error.html", message="Try again.")
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(response.body))),
            ("Cache-Control", response.cache),
            *SECURITY_HEADERS,
        ]
        if response.status.startswith("405"):
            headers.append(("Allow", "GET, HEAD"))
        start_response(response.status, headers)
        return [b""] if method == "HEAD" else [response.body]

    # --- routing ----------------------------------------------------------------------------
    def _route(self, path: str, q: dict[str, str]) -> Response:
        if path.startswith("/static/"):
            return self._static(path.removeprefix("/static/"))
        if path == "/healthz":
            self.store.ping()
            return Response("200 OK", b'{"ok": true}', "application/json")
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["jobs"] and len(parts) == 2:
            return self._job(parts[1], q)
        if parts[:1] == ["jobs"] and len(parts) == 3 and parts[2] == "events":
            return self._events(parts[1], q)
        if not parts:
            return self._list(q)
        if parts == ["policy"]:
            return self._playground(q)
        return self._page("404 Not Found", "error.html", message="No such page.")

    def _static(self, name: str) -> Response:
        if name not in STATIC:
            return Response("404 Not Found", b"not found", "text/plain; charset=utf-8")
        body = resources.files("bot.console").joinpath("static", name).read_bytes()
        return Response("200 OK", body, STATIC[name], cache="public, max-age=300")

    def _page(self, http_status: str, template: str, **context: Any) -> Response:
        html = self.templates.get_template(template).render(**context)
        return Response(http_status, html.encode())

    # --- access -----------------------------------------------------------------------------
    def _job_grant(self, job_id: str, token: str | None) -> tuple[Grant, Job]:
        grant = self.signer.verify(token)
        if grant.scope == "job" and grant.job_id != job_id:
            raise AccessDenied(f"a link for job {grant.job_id} used for job {job_id}")
        try:
            job = self.store.get(job_id)
        except JobNotFound:
            raise AccessDenied(f"no job {job_id} for this link") from None
        if not grant.opens_job(job.id, job.ticket.tenant):
            raise AccessDenied(
                f"a {grant.scope} link for tenant {grant.tenant} used for job {job.id} of tenant "
                f"{job.ticket.tenant}"
            )
        return grant, job

    def _tenant_grant(self, token: str | None) -> Grant:
        grant = self.signer.verify(token)
        if grant.scope != "tenant" or grant.tenant is None:
            raise AccessDenied(f"a {grant.scope} link used for a tenant page")
        return grant

    # --- pages ------------------------------------------------------------------------------
    def _job(self, job_id: str, q: dict[str, str]) -> Response:
        token = q.get("t")
        grant, job = self._job_grant(job_id, token)
        events = self.store.events(job.id)
        last = events[-1].seq if events else 0
        return self._page(
            "200 OK",
            "job.html",
            job=job,
            ticket=self.views.s(job.ticket.text),
            summary=self.views.summary(events),
            entries=self.views.timeline(events),
            last=last,
            terminal=job.status.terminal,
            poll=f"/jobs/{quote(job.id)}/events?t={quote(str(token))}",
            list_link=f"/?t={quote(str(token))}" if grant.scope == "tenant" else None,
        )

    def _events(self, job_id: str, q: dict[str, str]) -> Response:
        _grant, job = self._job_grant(job_id, q.get("t"))
        after = int(q["after"]) if q.get("after", "").isdigit() else 0
        events = self.store.events(job.id)
        new = [e for e in events if e.seq > after]
        earlier = [e for e in events if e.seq <= after]
        entries = self.templates.get_template("entries.html").render(
            entries=self.views.timeline(new, before=earlier)
        )
        summary_html = (
            self.templates.get_template("summary.html").render(
                summary=self.views.summary(events), job=job
            )
            if new
            else None
        )
        body = {
            "html": entries,
            "summary_html": summary_html,
            "last": new[-1].seq if new else after,
            "status": job.status.value,
            "terminal": job.status.terminal,
        }
        return Response("200 OK", json.dumps(body).encode(), "application/json")

    def _list(self, q: dict[str, str]) -> Response:
        token = q.get("t")
        grant = self._tenant_grant(token)
        status = q.get("status") or None
        if status is not None and status not in {s.value for s in JobStatus}:
            status = None
        verdict = q.get("verdict") or None
        if verdict not in VERDICTS:
            verdict = None
        search = (q.get("q") or "").strip()[:MAX_SEARCH_CHARS] or None
        now = datetime.now(UTC)
        jobs = self.store.list_jobs(
            status=JobStatus(status) if status else None,
            tenant=grant.tenant,
            verdict=verdict,
            text_contains=search,
            limit=LIST_LIMIT,
        )
        return self._page(
            "200 OK",
            "list.html",
            tenant=grant.tenant,
            token=token,
            jobs=jobs,
            ticket=lambda job: self.views.s(job.ticket.text),
            statuses=[s.value for s in JobStatus],
            verdicts=VERDICTS,
            status=status,
            verdict=verdict,
            search=search or "",
            job_link=lambda job: f"/jobs/{quote(job.id)}?t={quote(str(token))}",
            age=lambda job: age(job, now),
        )

    def _playground(self, q: dict[str, str]) -> Response:
        token = q.get("t")
        grant = self._tenant_grant(token)
        command = (q.get("command") or "")[:MAX_COMMAND_CHARS]
        decision = self.judge.judge(CommandRun(command), grant.tenant) if command.strip() else None
        return self._page(
            "200 OK",
            "policy.html",
            tenant=grant.tenant,
            token=token,
            command=command,
            decision=decision,
            argv=[json.dumps(stage) for stage in decision.argv] if decision else [],
        )
