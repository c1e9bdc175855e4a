"""A real OTLP/HTTP export: `Tracing.from_config` posts protobuf to a loopback receiver, which
decodes it as opentelemetry-proto's `ExportTraceServiceRequest`."""

from __future__ import annotations

import gzip
import queue
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from bot.errors import ConfigError
from bot.settings import Settings
from bot.tracing import Tracing, TracingConfig, trace_id_of


class Receiver:
    """An OTLP/HTTP traces endpoint on 127.0.0.1 that queues every decoded request."""

    def __init__(self) -> None:
        self.requests: queue.Queue[tuple[str, ExportTraceServiceRequest]] = queue.Queue()
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                received.put((self.path, request))
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_spans_reach_an_otlp_http_receiver_as_protobuf(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # requests would send loopback via a proxy
    settings = Settings(otel_exporter_otlp_endpoint=receiver.url)
    tracing = Tracing.from_settings(settings, service="steadfast-worker")
    try:
        with tracing.span("job.run", {"steadfast.job.id": "j1"}):
            traceparent = tracing.traceparent()
            with tracing.span("chat claude", {"gen_ai.usage.input_tokens": 42}):
                pass
        assert tracing.flush()
    finally:
        tracing.shutdown()
    path, request = receiver.requests.get(timeout=30)
    assert path == "/v1/traces"
    [resource_spans] = request.resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert service["service.name"] == "steadfast-worker"
    spans = [s for scope in resource_spans.scope_spans for s in scope.spans]
    by_name = {s.name: s for s in spans}
    assert set(by_name) == {"job.run", "chat claude"}
    assert by_name["chat claude"].parent_span_id == by_name["job.run"].span_id
    assert by_name["job.run"].trace_id.hex() == trace_id_of(traceparent)
    attrs = {a.key: a.value for a in by_name["chat claude"].attributes}
    assert attrs["gen_ai.usage.input_tokens"].int_value == 42


def test_no_endpoint_means_tracing_off() -> None:
    tracing = Tracing.from_settings(Settings(), service="steadfast-bot")
    assert not tracing.enabled
    with tracing.span("job.run") as span:
        assert not span.is_recording()


def test_an_endpoint_that_is_not_a_url_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="OTEL_EXPORTER_OTLP_ENDPOINT"):
        TracingConfig(endpoint="collector:4318")


def test_a_span_continues_the_trace_of_a_stored_traceparent() -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    tracing = Tracing.with_exporter(exporter)
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with tracing.span("job.run", parent=parent):
        pass
    with tracing.span("job.run", parent="not-a-traceparent"):
        pass
    joined, fresh = exporter.get_finished_spans()
    assert joined.context is not None and joined.parent is not None
    assert format(joined.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"
    assert format(joined.parent.span_id, "016x") == "b7ad6b7169203331"
    assert fresh.parent is None  # a malformed value starts a trace of its own
    tracing.shutdown()
