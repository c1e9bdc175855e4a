"""The `Tracing` object: a tracer provider of our own (never the global one), the spans we open,
and the W3C `traceparent` carried through the database between processes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import NoOpTracer, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue

from bot.errors import ConfigError
from bot.settings import Settings

INSTRUMENTATION = "steadfast"
_PROPAGATOR = TraceContextTextMapPropagator()


@dataclass(frozen=True, slots=True)
class TracingConfig:
    """Where spans go. `endpoint` is OTLP/HTTP's base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`);
    spans are posted to `<endpoint>/v1/traces`. None: tracing is off."""

    endpoint: str | None = None
    service: str = "steadfast"
    timeout_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.endpoint and not self.endpoint.startswith(("http://", "https://")):
            raise ConfigError(
                f"OTEL_EXPORTER_OTLP_ENDPOINT={self.endpoint!r} is not an http(s) URL; set it "
                "to the collector's OTLP/HTTP address (e.g. http://otel-collector:4318) or "
                "unset it to turn tracing off"
            )

    @property
    def traces_url(self) -> str | None:
        if not self.endpoint:
            return None
        return self.endpoint.rstrip("/") + "/v1/traces"


class Tracing:
    """Opens spans for one process. Build with `from_config` (OTLP when an endpoint is set),
    `disabled()`, or `with_exporter()` (tests: the SDK's in-memory exporter)."""

    def __init__(self, provider: TracerProvider | None) -> None:
        self._provider = provider
        self.tracer: trace.Tracer = (
            provider.get_tracer(INSTRUMENTATION) if provider is not None else NoOpTracer()
        )

    @classmethod
    def disabled(cls) -> Tracing:
        return cls(None)

    @classmethod
    def from_config(cls, config: TracingConfig) -> Tracing:
        url = config.traces_url
        if url is None:
            return cls.disabled()
        # imported here: a process without an endpoint never loads the exporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=url, timeout=int(config.timeout_seconds))
        return cls.with_processor(BatchSpanProcessor(exporter), service=config.service)

    @classmethod
    def from_settings(cls, settings: Settings, *, service: str) -> Tracing:
        """OTLP/HTTP to `OTEL_EXPORTER_OTLP_ENDPOINT` when it is set; off otherwise.
        `OTEL_SERVICE_NAME`, when set, names every process; else `service` does."""
        return cls.from_config(
            TracingConfig(
                endpoint=settings.otel_exporter_otlp_endpoint,
                service=settings.otel_service_name or service,
            )
        )

    @classmethod
    def local(cls, *, service: str = "steadfast") -> Tracing:
        """Spans with real ids that go nowhere: the demo's bot, so the trace id it prints is
        the one the workers continue even when nothing collects it."""
        return cls(TracerProvider(resource=Resource.create({"service.name": service})))

    @classmethod
    def with_exporter(cls, exporter: SpanExporter, *, service: str = "steadfast") -> Tracing:
        """Every span exported as it ends (tests, and the demo's local trace)."""
        return cls.with_processor(SimpleSpanProcessor(exporter), service=service)

    @classmethod
    def with_processor(cls, processor: SpanProcessor, *, service: str) -> Tracing:
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(processor)
        return cls(provider)

    @property
    def enabled(self) -> bool:
        return self._provider is not None

    @contextmanager
    def span(
        self,
        name: str,
        attributes: Mapping[str, Any] | None = None,
        *,
        parent: str | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
    ) -> Iterator[Span]:
        """A span, current for the `with` block, child of the current span or, with `parent`
        (a W3C traceparent read from the database), of the span that wrote it. An exception
        marks the span as failed (type only: messages may carry secrets) and propagates."""
        context = _extract(parent) if parent else None
        with self.tracer.start_as_current_span(
            name,
            context=context,
            kind=kind,
            attributes=clean(attributes),
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield span
            except BaseException as exc:
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                span.set_attribute("error.type", type(exc).__name__)
                raise

    def traceparent(self) -> str | None:
        """The current span as a W3C traceparent, to store with the job; None when off."""
        if not trace.get_current_span().get_span_context().is_valid:
            return None
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        return carrier.get("traceparent")

    def flush(self, timeout_seconds: float = 5.0) -> bool:
        if self._provider is None:
            return True
        return self._provider.force_flush(int(timeout_seconds * 1000))

    def shutdown(self) -> None:
        """Export what is buffered and stop; call once when the process ends."""
        if self._provider is not None:
            self._provider.shutdown()


def clean(attributes: Mapping[str, AttributeValue | None] | None) -> dict[str, AttributeValue]:
    """Attributes without the None values (OpenTelemetry rejects them with a warning)."""
    return {k: v for k, v in (attributes or {}).items() if v is not None}


def _extract(traceparent: str) -> Context | None:
    context = _PROPAGATOR.extract({"traceparent": traceparent})
    # a malformed value extracts to an empty context: the span starts a trace of its own
    return context if trace.get_current_span(context).get_span_context().is_valid else None


def set_attributes(span: Span, attributes: Mapping[str, Any]) -> None:
    span.set_attributes(clean(attributes))
