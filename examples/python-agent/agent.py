"""An arithmetic agent in Python for the collector's trainer loop.

It uses the `openai` SDK with the official OpenTelemetry instrumentation
(`opentelemetry-instrumentation-openai-v2`) and imports nothing from Agent
Lightning or the collector. Run by `command` dispatch, one process per
rollout: the task ({"question": ..., "answer": n}) arrives on stdin, the
rollout's resources (a `prompt_template` named system_prompt and an `llm`)
in AGL_RESOURCES, and the OTLP endpoint and the rollout/attempt ids in the
standard OTEL_* variables. It scores itself (1 for the right number, else 0),
records the score as a `gen_ai.evaluation.result` event (the collector's
reward processor turns it into an Agent Lightning reward), and prints it as
its last stdout line.
"""

from __future__ import annotations

import json
import os
import re
import sys

import openai
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def setup_tracing() -> TracerProvider:
    # Resource.create reads OTEL_RESOURCE_ATTRIBUTES, where the dispatcher puts
    # agentlightning.rollout_id and agentlightning.attempt_id.
    provider = TracerProvider(resource=Resource.create({"service.name": "python-arithmetic-agent"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    return provider


def last_integer(text: str) -> int | None:
    numbers = re.findall(r"-?\d+", text or "")
    return int(numbers[-1]) if numbers else None


def main() -> int:
    task = json.load(sys.stdin)
    resources = json.loads(os.environ.get("AGL_RESOURCES") or "{}")
    system_prompt = resources.get("system_prompt", {}).get("template", "Answer with a number.")
    llm = resources.get("llm", {})
    provider = setup_tracing()
    tracer = trace.get_tracer("python-arithmetic-agent")
    client = openai.OpenAI(base_url=llm.get("endpoint"), api_key=llm.get("api_key") or "unused")
    with tracer.start_as_current_span("agent.run") as span:
        reply = client.chat.completions.create(
            model=llm.get("model", "llmmock"),
            messages=[{"role": "system", "content": system_prompt}, {"role": "user", "content": task["question"]}],
            temperature=0,
        )
        text = reply.choices[0].message.content or ""
        reward = 1.0 if last_integer(text) == task.get("answer") else 0.0
        span.add_event(
            "gen_ai.evaluation.result",
            {"gen_ai.evaluation.name": "correctness", "gen_ai.evaluation.score.value": reward},
        )
    provider.shutdown()  # flush before the process exits
    print(f"question {task['question']!r}, reply {text!r}", file=sys.stderr)
    print(reward)
    return 0


if __name__ == "__main__":
    sys.exit(main())
