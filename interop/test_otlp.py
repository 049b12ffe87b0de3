"""OTLP/HTTP trace ingest: the path Agent Lightning's tracers use.

With a LightningStoreClient as the store, OtelTracer and AgentOpsTracer export
every span through agentlightning's LightningStoreOTLPExporter (a subclass of
the OpenTelemetry OTLP/HTTP protobuf exporter) to `client.otlp_traces_endpoint()`,
i.e. POST {store}/v1/traces, with the rollout and attempt ids merged into the
span's resource and no sequence id (the store allocates them in arrival order).
These tests drive exactly that exporter, on a private TracerProvider.
"""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

import harness
from agentlightning.store.client_server import LightningStoreClient
from agentlightning.utils.otlp import LightningStoreOTLPExporter
from helpers import eventually

pytestmark = pytest.mark.otlp


def store_exporter(endpoint: str, rollout_id: str, attempt_id: str, **kwargs) -> tuple:
    exporter = LightningStoreOTLPExporter(**kwargs)
    exporter.enable_store_otlp(endpoint, rollout_id, attempt_id)
    provider = TracerProvider(resource=Resource.create({"service.name": "interop-otlp"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


async def spans_when(client: LightningStoreClient, rollout_id: str, count: int):
    result = await eventually(lambda: client.query_spans(rollout_id), lambda r: r.total >= count, timeout=15)
    assert result.total == count, f"expected {count} spans through OTLP, the store has {result.total}"
    return result


@pytest.mark.parametrize(
    "compression",
    [
        pytest.param(Compression.NoCompression, id="none"),
        pytest.param(Compression.Gzip, id="gzip"),
        # The Python store rejects deflate; the exporter allows it (OTEL_EXPORTER_OTLP_COMPRESSION=deflate).
        pytest.param(Compression.Deflate, id="deflate", marks=pytest.mark.collector_only),
    ],
)
async def test_tracer_exporter_spans_reach_the_store(client: LightningStoreClient, compression: Compression) -> None:
    started = await client.start_rollout(input={"otlp": compression.value})
    rid, aid = started.rollout_id, started.attempt.attempt_id
    provider, exporter = store_exporter(client.otlp_traces_endpoint(), rid, aid, compression=compression)
    assert client.otlp_traces_endpoint().endswith("/v1/traces")

    tracer = provider.get_tracer("interop")
    with tracer.start_as_current_span("agent.run", attributes={"agent": "interop"}) as root:
        with tracer.start_as_current_span(
            "openai.chat.completion",
            attributes={"gen_ai.request.model": "mock", "gen_ai.usage.prompt_tokens": 7, "ok": True},
        ) as llm:
            llm.add_event("first_token", {"n": 1})
            llm.set_status(Status(StatusCode.ERROR, "boom"))
    provider.shutdown()

    spans = await spans_when(client, rid, 2)
    # Children end first, and the store numbers spans in arrival order.
    assert [s.name for s in spans] == ["openai.chat.completion", "agent.run"]
    assert [s.sequence_id for s in spans] == [1, 2]
    child, parent = spans
    assert {s.attempt_id for s in spans} == {aid}
    assert child.trace_id == parent.trace_id == format(root.get_span_context().trace_id, "032x")
    assert parent.span_id == format(root.get_span_context().span_id, "016x")
    assert child.span_id == format(llm.get_span_context().span_id, "016x")
    assert child.parent_id == parent.span_id and parent.parent_id is None
    assert child.attributes["gen_ai.request.model"] == "mock"
    assert child.attributes["gen_ai.usage.prompt_tokens"] == 7
    assert child.attributes["ok"] is True
    assert (child.status.status_code, child.status.description) == ("ERROR", "boom")
    assert [e.name for e in child.events] == ["first_token"]
    assert child.events[0].attributes == {"n": 1}
    assert child.start_time is not None and child.end_time is not None and child.end_time >= child.start_time
    # The exporter merges Resource.create({ids}) over the provider's resource, so
    # the SDK defaults (telemetry.sdk.*, service.name) come along with the ids.
    assert child.resource.attributes["telemetry.sdk.language"] == "python"
    assert child.resource.attributes["agentlightning.rollout_id"] == rid
    assert child.resource.attributes["agentlightning.attempt_id"] == aid

    # An OTLP span is a heartbeat like any other.
    attempt = await client.get_latest_attempt(rid)
    assert attempt is not None and attempt.status == "running" and attempt.last_heartbeat_time is not None


async def test_span_attributes_override_resource_ids(client: LightningStoreClient) -> None:
    decoy = await client.start_rollout(input={"otlp": "decoy"})
    target = await client.start_rollout(input={"otlp": "target"})
    provider, _ = store_exporter(client.otlp_traces_endpoint(), decoy.rollout_id, decoy.attempt.attempt_id)

    tracer = provider.get_tracer("interop")
    attrs = {
        "agentlightning.rollout_id": target.rollout_id,
        "agentlightning.attempt_id": target.attempt.attempt_id,
        "agentlightning.span_sequence_id": "42",
    }
    with tracer.start_as_current_span("redirected", attributes=attrs):
        pass
    with tracer.start_as_current_span("stays"):
        pass
    provider.shutdown()

    moved = await spans_when(client, target.rollout_id, 1)
    assert [(s.name, s.sequence_id) for s in moved] == [("redirected", 42)]
    assert moved[0].attempt_id == target.attempt.attempt_id
    stayed = await spans_when(client, decoy.rollout_id, 1)
    assert [s.name for s in stayed] == ["stays"]
    # The store's counter jumped past the explicit id of the other rollout only.
    assert await client.get_next_span_sequence_id(target.rollout_id, "latest") == 43


@pytest.mark.collector_only
async def test_collector_otlp_receiver_accepts_agent_lightning_spans(
    collector: harness.StoreProcess, client: LightningStoreClient
) -> None:
    """The same exporter pointed at the collector's standard OTLP/HTTP receiver
    (:4318 by default) instead of the store port: spans carry the ids in their
    resource, so they land in the same store."""
    assert isinstance(collector, harness.Collector)
    started = await client.start_rollout(input={"otlp": "receiver"})
    endpoint = collector.otlp_http_url + "/v1/traces"
    provider, _ = store_exporter(endpoint, started.rollout_id, started.attempt.attempt_id)
    with provider.get_tracer("interop").start_as_current_span("via.receiver"):
        pass
    provider.shutdown()

    spans = await spans_when(client, started.rollout_id, 1)
    assert [(s.name, s.sequence_id) for s in spans] == [("via.receiver", 1)]
