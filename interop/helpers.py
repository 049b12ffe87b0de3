"""Builders and small utilities shared by the interop tests."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any, Awaitable, Callable, List, Optional, TypeVar

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider

from agentlightning.types import OtelResource, Span, SpanContext, TraceStatus

T = TypeVar("T")


def uid(prefix: str) -> str:
    """A name no other test uses, for objects in the shared store."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def make_span(
    rollout_id: str,
    attempt_id: str,
    sequence_id: int,
    name: str,
    *,
    trace_id: Optional[str] = None,
    span_id: Optional[str] = None,
    parent_id: Optional[str] = None,
    attributes: Optional[dict] = None,
    **extra: Any,
) -> Span:
    """An agentlightning Span as a runner would build it, with OTel-style hex ids."""
    trace_id = trace_id or uuid.uuid4().hex
    span_id = span_id or uuid.uuid4().hex[:16]
    now = time.time()
    return Span(
        rollout_id=rollout_id,
        attempt_id=attempt_id,
        sequence_id=sequence_id,
        trace_id=trace_id,
        span_id=span_id,
        parent_id=parent_id,
        name=name,
        status=TraceStatus(status_code="OK"),
        attributes=attributes or {},
        events=[],
        links=[],
        start_time=now,
        end_time=now + 0.25,
        context=SpanContext(trace_id=trace_id, span_id=span_id, is_remote=False, trace_state={}),
        parent=None,
        resource=OtelResource(attributes={"service.name": "interop"}, schema_url=""),
        **extra,
    )


_provider = TracerProvider(resource=Resource.create({"service.name": "interop-readable"}))


def readable_span(name: str, attributes: Optional[dict] = None) -> ReadableSpan:
    """A finished OpenTelemetry SDK span from a private provider (the global one
    is left alone: the runner test's tracer installs its own)."""
    tracer = _provider.get_tracer("interop")
    span = tracer.start_span(name, attributes=attributes or {})
    span.end()
    assert isinstance(span, ReadableSpan)
    return span


async def eventually(
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], bool],
    *,
    timeout: float = 10.0,
    interval: float = 0.05,
) -> T:
    """Poll `probe` until `until(result)` or the deadline; returns the last result."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if until(result) or time.monotonic() >= deadline:
            return result
        await asyncio.sleep(interval)


class LogRecorder(logging.Handler):
    """Collects messages of one logger, and can wake a coroutine on a match."""

    def __init__(self, logger_name: str) -> None:
        super().__init__(logging.DEBUG)
        self.logger = logging.getLogger(logger_name)
        self.messages: List[str] = []
        self._waiters: List[tuple] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self.messages.append(message)
        for needle, loop, event in self._waiters:
            if needle in message:
                loop.call_soon_threadsafe(event.set)

    def count(self, needle: str) -> int:
        return sum(needle in m for m in self.messages)

    def event_for(self, needle: str) -> asyncio.Event:
        event = asyncio.Event()
        self._waiters.append((needle, asyncio.get_running_loop(), event))
        return event

    def __enter__(self) -> "LogRecorder":
        self._old_level = self.logger.level
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self._old_level)
