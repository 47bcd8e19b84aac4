"""A loopback OTLP/HTTP trace receiver: decodes the protobuf export requests the real
OpenTelemetry exporter sends to /v1/traces and keeps the spans."""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.fakes.http import FakeHTTPServer, RecordedRequest, Response


@dataclass(frozen=True)
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_span_id: str  # "" for a root span
    name: str
    service: str
    kind: int
    attributes: dict


class FakeOTLPReceiver(FakeHTTPServer):
    def __init__(self):
        super().__init__()
        self.spans: list[ReceivedSpan] = []
        self._spans_lock = threading.Lock()
        self.add_route("POST", r"^/v1/traces$", self._traces)

    def _traces(self, request: RecordedRequest):
        body = request.body
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest()
        export.ParseFromString(body)
        received = []
        for resource_spans in export.resource_spans:
            service = next(
                (
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                ),
                "",
            )
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            name=span.name,
                            service=service,
                            kind=span.kind,
                            attributes={a.key: _value(a.value) for a in span.attributes},
                        )
                    )
        with self._spans_lock:
            self.spans.extend(received)
        return Response(
            200,
            ExportTraceServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self._spans_lock:
            return [span for span in self.spans if span.trace_id == trace_id]


def _value(value):
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None
