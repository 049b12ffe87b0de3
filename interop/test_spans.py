"""Spans and sequence ids through the real LightningStoreClient (REST path)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import ClientResponseError

from agentlightning.store.client_server import LightningStoreClient
from agentlightning.types import Event, Link, PaginatedResult, Span, SpanContext, TraceStatus
from helpers import make_span, readable_span


async def test_add_span_round_trips_every_field(client: LightningStoreClient) -> None:
    started = await client.start_rollout(input={"span": "roundtrip"})
    rid, aid = started.rollout_id, started.attempt.attempt_id
    ctx = SpanContext(trace_id="0af7651916cd43dd8448eb211c80319c", span_id="00f067aa0ba902b7", is_remote=True,
                      trace_state={"vendor": "v1"})
    span = make_span(
        rid,
        aid,
        7,
        "agentlightning.annotation",
        trace_id="0af7651916cd43dd8448eb211c80319c",
        span_id="b7ad6b7169203331",
        parent_id="00f067aa0ba902b7",
        attributes={
            "agentlightning.reward.0.name": "primary",
            "agentlightning.reward.0.value": 0.75,
            "int": 3,
            "flag": True,
            "tags": ["a", "b"],
            "scores": [1.5, 2.5],
        },
        kind="SpanKind.INTERNAL",  # an unknown key (Span allows extras)
    )
    span.status = TraceStatus(status_code="ERROR", description="boom", extra_status_key=1)
    span.events = [Event(name="retry", attributes={"n": 1}, timestamp=span.start_time)]
    span.links = [Link(context=ctx, attributes={"link": "x"})]
    span.parent = ctx

    stored = await client.add_span(span)
    assert type(stored) is Span
    assert stored.model_dump() == span.model_dump()

    found = await client.query_spans(rid)
    assert len(found) == 1
    got = found[0]
    assert got.model_dump() == span.model_dump()
    assert got.model_extra == {"kind": "SpanKind.INTERNAL"}
    assert got.status.model_extra == {"extra_status_key": 1}


async def test_duplicate_span_is_dropped(client: LightningStoreClient) -> None:
    started = await client.start_rollout(input={"span": "dup"})
    other = await client.start_rollout(input={"span": "dup-other"})
    base = make_span(started.rollout_id, started.attempt.attempt_id, 1, "first")

    assert await client.add_span(base) is not None
    assert await client.add_span(base) is None  # (rollout, attempt, span_id) already stored

    batch = [
        make_span(started.rollout_id, started.attempt.attempt_id, 2, "second"),
        make_span(other.rollout_id, other.attempt.attempt_id, 1, "other-rollout"),
        base,
    ]
    inserted = await client.add_many_spans(batch)
    assert [s.name for s in inserted] == ["second", "other-rollout"]
    assert [s.name for s in await client.query_spans(started.rollout_id)] == ["first", "second"]


async def test_add_span_unknown_rollout_or_attempt_raises(client: LightningStoreClient) -> None:
    started = await client.start_rollout(input={"span": "unknown"})
    for rid, aid in [("ro-doesnotexist", started.attempt.attempt_id), (started.rollout_id, "at-doesnotexist")]:
        with pytest.raises(ClientResponseError) as info:
            await client.add_span(make_span(rid, aid, 1, "orphan"))
        assert info.value.status == 500


async def test_span_is_a_heartbeat(client: LightningStoreClient) -> None:
    started = await client.start_rollout(input={"span": "heartbeat"})
    assert started.attempt.last_heartbeat_time is None

    await client.add_span(make_span(started.rollout_id, started.attempt.attempt_id, 1, "work"))

    attempt = await client.get_latest_attempt(started.rollout_id)
    assert attempt is not None
    assert attempt.status == "running"
    assert attempt.last_heartbeat_time is not None
    rollout = await client.get_rollout_by_id(started.rollout_id)
    assert rollout is not None and rollout.status == "running"


async def test_sequence_ids_are_per_rollout(client: LightningStoreClient) -> None:
    a = await client.start_rollout(input={"seq": "a"})
    b = await client.start_rollout(input={"seq": "b"})
    retry = await client.start_attempt(a.rollout_id)

    # One counter per rollout, shared by its attempts; "latest" is just an id here.
    ids = await client.get_many_span_sequence_ids(
        [
            (a.rollout_id, a.attempt.attempt_id),
            (b.rollout_id, b.attempt.attempt_id),
            (a.rollout_id, retry.attempt.attempt_id),
            (a.rollout_id, "latest"),
        ]
    )
    assert ids == [1, 1, 2, 3]
    nxt = await client.get_next_span_sequence_id(a.rollout_id, a.attempt.attempt_id)
    assert nxt == 4 and type(nxt) is int

    # An explicit sequence id raises the counter (max), a smaller one does not lower it.
    await client.add_span(make_span(a.rollout_id, retry.attempt.attempt_id, 101, "jump"))
    assert await client.get_next_span_sequence_id(a.rollout_id, a.attempt.attempt_id) == 102
    await client.add_span(make_span(a.rollout_id, retry.attempt.attempt_id, 0, "low"))
    assert await client.get_next_span_sequence_id(a.rollout_id, a.attempt.attempt_id) == 103


async def test_sequence_ids_need_no_rollout(client: LightningStoreClient) -> None:
    # The LLM proxy allocates before the store has seen anything of the rollout.
    assert await client.get_next_span_sequence_id("ro-not-created-yet", "at-whatever") == 1
    assert await client.get_next_span_sequence_id("ro-not-created-yet", "at-other") == 2


async def test_add_otel_span_converts_sdk_spans(client: LightningStoreClient) -> None:
    started = await client.start_rollout(input={"span": "otel"})
    rid, aid = started.rollout_id, started.attempt.attempt_id
    sdk_span = readable_span("openai.chat.completion", {"gen_ai.request.model": "mock", "n": 2})

    stored = await client.add_otel_span(rid, aid, sdk_span)
    assert stored is not None
    assert stored.sequence_id == 1
    assert stored.trace_id == format(sdk_span.context.trace_id, "032x")
    assert stored.span_id == format(sdk_span.context.span_id, "016x")
    assert stored.attributes == {"gen_ai.request.model": "mock", "n": 2}
    assert stored.resource.attributes["service.name"] == "interop-readable"

    with_seq = await client.add_otel_span(rid, aid, readable_span("explicit"), sequence_id=50)
    assert with_seq is not None and with_seq.sequence_id == 50
    assert await client.add_otel_span(rid, aid, sdk_span) is None  # same span id again

    names = [s.name for s in await client.query_spans(rid)]
    assert names == ["openai.chat.completion", "explicit"]


async def test_concurrent_add_otel_span_gets_distinct_sequence_ids(client: LightningStoreClient) -> None:
    started = await client.start_rollout(input={"span": "concurrent"})
    spans = await asyncio.gather(
        *(
            client.add_otel_span(started.rollout_id, started.attempt.attempt_id, readable_span(f"c-{i}"))
            for i in range(20)
        )
    )
    assert sorted(s.sequence_id for s in spans if s is not None) == list(range(1, 21))
    stored = await client.query_spans(started.rollout_id, "latest")
    assert stored.total == 20
    assert [s.sequence_id for s in stored] == list(range(1, 21))


async def test_query_spans_filters_sort_and_paging(client: LightningStoreClient) -> None:
    started = await client.start_rollout(input={"span": "query"})
    rid, first_aid = started.rollout_id, started.attempt.attempt_id
    trace = "1" * 32
    root = make_span(rid, first_aid, 1, "agent.plan", trace_id=trace, span_id="a" * 16)
    reward = make_span(rid, first_aid, 2, "agentlightning.annotation", trace_id=trace, span_id="b" * 16,
                       parent_id="a" * 16)
    tool = make_span(rid, first_aid, 3, "tool.call", trace_id="2" * 32, span_id="c" * 16, parent_id="a" * 16)
    for s in (root, reward, tool):
        await client.add_span(s)
    second = await client.start_attempt(rid)
    retry_span = make_span(rid, second.attempt.attempt_id, 4, "agent.plan", span_id="d" * 16)
    await client.add_span(retry_span)

    async def names(**kwargs) -> list:
        return [s.name for s in await client.query_spans(rid, **kwargs)]

    everything = await client.query_spans(rid)
    assert isinstance(everything, PaginatedResult)
    assert (everything.total, everything.limit, everything.offset) == (4, -1, 0)
    assert [s.sequence_id for s in everything] == [1, 2, 3, 4]

    assert await names(attempt_id=first_aid) == ["agent.plan", "agentlightning.annotation", "tool.call"]
    assert await names(attempt_id="latest") == ["agent.plan"]
    assert [s.span_id for s in await client.query_spans(rid, "latest")] == ["d" * 16]
    assert await names(attempt_id="at-doesnotexist") == []
    assert await names(name="agent.plan", attempt_id=first_aid) == ["agent.plan"]
    assert await names(name_contains="annot") == ["agentlightning.annotation"]
    assert await names(span_id="c" * 16) == ["tool.call"]
    assert await names(span_id_contains="bb") == ["agentlightning.annotation"]
    assert await names(trace_id=trace) == ["agent.plan", "agentlightning.annotation"]
    assert await names(trace_id_contains="222") == ["tool.call"]
    assert await names(parent_id="a" * 16) == ["agentlightning.annotation", "tool.call"]
    assert await names(parent_id_contains="aaa", name_contains="tool") == ["tool.call"]
    # OR pools the optional filters, but never leaks out of the rollout and attempt.
    ored = await names(attempt_id=first_aid, span_id="a" * 16, trace_id_contains="222", filter_logic="or")
    assert ored == ["agent.plan", "tool.call"]

    page = await client.query_spans(rid, sort_by="sequence_id", sort_order="desc", limit=2, offset=1)
    assert [s.sequence_id for s in page] == [3, 2]
    assert (page.total, page.limit, page.offset) == (4, 2, 1)
    by_name = await names(attempt_id=first_aid, sort_by="name")
    assert by_name == sorted(by_name)

    other = await client.query_spans("ro-doesnotexist")
    assert (list(other), other.total) == ([], 0)


async def test_query_spans_rejects_unknown_sort_field(client: LightningStoreClient) -> None:
    started = await client.start_rollout(input={"span": "bad-sort"})
    with pytest.raises(ClientResponseError) as info:
        await client.query_spans(started.rollout_id, sort_by="no_such_field")
    assert info.value.status == 400
