// Package loadgen produces realistic agent traces and sends them as OTLP.
//
// A Workload describes what one rollout of an agent looks like: an agent
// span around a number of LLM calls (OpenLLMetry-style gen_ai.prompt.* and
// gen_ai.completion.* attributes with a growing conversation, token-id
// arrays as vLLM-backed agents record them), a tool call after each LLM call,
// and a reward span (agentlightning.reward.*). Rollout builds the spans of
// one rollout as ptrace.Traces, labelled with the rollout and attempt ids the
// way Agent Lightning's tracer labels them (resource attributes), in the
// order an SDK exports them (span end order).
//
// Senders deliver traces over OTLP/HTTP (protobuf, the only encoding Agent
// Lightning's own /v1/traces accepts) or OTLP/gRPC, and report an export as
// successful only when the server acknowledged every span, so callers can
// tell exactly which spans were accepted.
//
// The package is used by the benchmark command (bench/run) and by the
// reliability tests in internal/e2e.
package loadgen
