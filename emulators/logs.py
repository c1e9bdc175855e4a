"""Log store stand-ins: a Loki-compatible `query_range` endpoint and an Elasticsearch-style
`_search`, both serving the scenario's `logs.streams`.

LogQL subset: a stream selector `{k="v", k!="v", k=~"re", k!~"re"}` followed by line filters
`|= "s"`, `!= "s"`, `|~ "re"`, `!~ "re"`. Elasticsearch subset: `query_string`/`match` text
and `term` filters on labels, a `range` on `@timestamp` with `now-<N>s`, `size`.
"""

from __future__ import annotations

import argparse
import copy
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from emulators.base import Emulator, Request, Response, load_scenario, serve_forever
from emulators.scenario_time import resolve_times

_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')
_FILTER = re.compile(r'\s*(\|=|!=|\|~|!~)\s*"((?:[^"\\]|\\.)*)"')


class LogQLError(ValueError):
    pass


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def entries(scenario: dict[str, Any]) -> list[tuple[dict[str, str], datetime, str]]:
    section = resolve_times(copy.deepcopy(scenario.get("logs") or {}))
    rows = []
    for stream in section.get("streams") or []:
        labels = {str(k): str(v) for k, v in (stream.get("labels") or {}).items()}
        for at, line in stream.get("lines") or []:
            rows.append((labels, _ts(str(at)), str(line)))
    return rows


def parse_logql(query: str) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    m = re.fullmatch(r"\s*\{(.*?)\}(.*)", query, re.S)
    if not m:
        raise LogQLError('parse error: queries start with a stream selector like {app="x"}')
    matchers: list[tuple[str, str, str]] = []
    for part in filter(str.strip, re.split(r',(?=(?:[^"]*"[^"]*")*[^"]*$)', m.group(1))):
        mm = _MATCHER.fullmatch(part)
        if not mm:
            raise LogQLError(f"parse error: bad label matcher {part.strip()!r}")
        matchers.append((mm.group(1), mm.group(2), mm.group(3)))
    if not matchers:
        raise LogQLError("parse error: a stream selector needs at least one matcher")
    filters: list[tuple[str, str]] = []
    rest = m.group(2)
    while rest.strip():
        fm = _FILTER.match(rest)
        if not fm:
            raise LogQLError(f"parse error: unsupported pipeline stage {rest.strip()!r}")
        filters.append((fm.group(1), fm.group(2)))
        rest = rest[fm.end() :]
    return matchers, filters


def _label_ok(labels: dict[str, str], op: str, key: str, value: str) -> bool:
    have = labels.get(key, "")
    return {
        "=": have == value,
        "!=": have != value,
        "=~": re.fullmatch(value, have) is not None,
        "!~": re.fullmatch(value, have) is None,
    }[op]


def _line_ok(line: str, op: str, value: str) -> bool:
    return {
        "|=": value in line,
        "!=": value not in line,
        "|~": re.search(value, line) is not None,
        "!~": re.search(value, line) is None,
    }[op]


class LokiEmulator(Emulator):
    name = "loki"

    def __init__(self, scenario: dict[str, Any] | None = None, *, port: int = 0) -> None:
        super().__init__(scenario, port=port)
        self.entries = entries(self.scenario)
        self.route("GET", "/ready", lambda r: Response(200, "ready"))
        self.route("GET", "/loki/api/v1/labels", self._labels)
        self.route("GET", "/loki/api/v1/query_range", self._query_range)

    def _labels(self, request: Request) -> Response:
        names = sorted({k for labels, _, _ in self.entries for k in labels})
        return Response(200, {"status": "success", "data": names})

    def _query_range(self, request: Request) -> Response:
        query = request.arg("query") or ""
        now = datetime.now(UTC)
        start = _ns_time(request.arg("start"), now - timedelta(hours=1))
        end = _ns_time(request.arg("end"), now)
        limit = int(request.arg("limit") or 100)
        try:
            matchers, filters = parse_logql(query)
        except LogQLError as exc:
            return Response(400, str(exc), content_type="text/plain")
        streams: dict[tuple[tuple[str, str], ...], list[list[str]]] = {}
        hits = sorted(
            (
                (labels, at, line)
                for labels, at, line in self.entries
                if start <= at <= end
                and all(_label_ok(labels, op, k, v) for k, op, v in matchers)
                and all(_line_ok(line, op, v) for op, v in filters)
            ),
            key=lambda e: e[1],
            reverse=request.arg("direction", "backward") == "backward",
        )[:limit]
        for labels, at, line in hits:
            key = tuple(sorted(labels.items()))
            streams.setdefault(key, []).append([str(int(at.timestamp() * 1e9)), line])
        result = [{"stream": dict(k), "values": v} for k, v in streams.items()]
        body = {"status": "success", "data": {"resultType": "streams", "result": result}}
        return Response(200, body)


def _ns_time(value: str | None, default: datetime) -> datetime:
    if not value:
        return default
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1e9, UTC)
    return _ts(value)


class ElasticsearchEmulator(Emulator):
    name = "elasticsearch"

    def __init__(self, scenario: dict[str, Any] | None = None, *, port: int = 0) -> None:
        super().__init__(scenario, port=port)
        self.entries = entries(self.scenario)
        self.route("GET", "/", lambda r: Response(200, {"version": {"number": "8.15.0"}}))
        self.route("GET", "/_cluster/health", lambda r: Response(200, {"status": "green"}))
        self.route("POST", "/(?P<index>[^/_][^/]*)/_search", self._search)
        self.route("*", "/.*", lambda r: Response(403, {"error": "read-only emulator"}))

    def _search(self, request: Request) -> Response:
        body = request.json() or {}
        size = int(body.get("size", 10))
        must, filters = _es_clauses(body.get("query") or {})
        now = datetime.now(UTC)
        hits = []
        for labels, at, line in sorted(self.entries, key=lambda e: e[1], reverse=True):
            if any(text.lower() not in line.lower() for text in must):
                continue
            if not all(f(labels, at, now) for f in filters):
                continue
            source = {"@timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "message": line, **labels}
            hits.append({"_index": request.params["index"], "_source": source})
        total = {"value": len(hits), "relation": "eq"}
        return Response(200, {"hits": {"total": total, "hits": hits[:size]}})


def _es_clauses(query: dict[str, Any]) -> tuple[list[str], list[Any]]:
    must: list[str] = []
    filters: list[Any] = []

    def walk(q: dict[str, Any]) -> None:
        for kind, spec in q.items():
            if kind == "bool":
                for key in ("must", "filter"):
                    clauses = spec.get(key) or []
                    for clause in clauses if isinstance(clauses, list) else [clauses]:
                        walk(clause)
            elif kind == "query_string":
                must.append(str(spec.get("query", "")).strip('"'))
            elif kind == "match":
                for value in spec.values():
                    must.append(str(value.get("query") if isinstance(value, dict) else value))
            elif kind == "term":
                for field, value in spec.items():
                    want = str(value.get("value") if isinstance(value, dict) else value)
                    filters.append(lambda labels, at, now, f=field, w=want: labels.get(f) == w)
            elif kind == "range":
                gte = str(spec.get("@timestamp", {}).get("gte", ""))
                m = re.fullmatch(r"now-(\d+)s", gte)
                if m:
                    secs = int(m.group(1))
                    filters.append(lambda labels, at, now, s=secs: at >= now - timedelta(seconds=s))

    walk(query)
    return must, filters


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulators.logs")
    parser.add_argument("--scenario", type=Path, default=None, help="scenario YAML")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--elasticsearch", action="store_true", help="serve _search, not Loki")
    args = parser.parse_args(argv)
    cls = ElasticsearchEmulator if args.elasticsearch else LokiEmulator
    serve_forever(cls(load_scenario(args.scenario), port=args.port))


if __name__ == "__main__":
    main()
