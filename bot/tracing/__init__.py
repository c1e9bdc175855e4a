"""OpenTelemetry traces: one trace per job, from the Slack mention to the handoff.

`Tracing` is built once per process from `Settings` (`Tracing.from_settings`) and passed to
the objects that open spans; nothing here sets OpenTelemetry's global tracer provider. With no
`OTEL_EXPORTER_OTLP_ENDPOINT` it is `Tracing.disabled()`: spans are the API's non-recording
ones and cost a function call.
"""

from bot.tracing.context import current_trace_id, trace_id_of
from bot.tracing.setup import Tracing, TracingConfig

__all__ = ["Tracing", "TracingConfig", "current_trace_id", "trace_id_of"]
