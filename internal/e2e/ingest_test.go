package e2e

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// agentRun is what sendAgentRun emitted: the trace id and the span names in
// the order the spans ended, which is the order they reached the collector.
type agentRun struct {
	traceID string
	names   []string
}

// sendAgentRun emits one small agent run (a root span with an LLM call, a tool
// call and a second LLM call) through exp. The SDK exports each span when it
// ends (a syncer, not a batcher), so arrival order is end order.
func sendAgentRun(t *testing.T, exp sdktrace.SpanExporter, resAttrs ...attribute.KeyValue) agentRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(append(resAttrs, attribute.String("service.name", "e2e-agent"))...)),
	)
	defer func() {
		if err := tp.Shutdown(ctx); err != nil {
			t.Errorf("shut down tracer provider: %v", err)
		}
	}()
	tracer := tp.Tracer("otelcol-lightning/e2e")

	runCtx, root := tracer.Start(ctx, "agent.run")
	var run agentRun
	run.traceID = root.SpanContext().TraceID().String()
	for _, name := range []string{"chat gpt-4o-mini", "execute_tool calculator", "chat gpt-4o-mini (2)"} {
		_, child := tracer.Start(runCtx, name, trace.WithAttributes(attribute.String("gen_ai.operation.name", "chat")))
		child.End()
		run.names = append(run.names, name)
	}
	root.SetStatus(codes.Ok, "")
	root.End()
	run.names = append(run.names, "agent.run")
	if err := tp.ForceFlush(ctx); err != nil {
		t.Fatalf("flush spans: %v", err)
	}
	return run
}

func newGRPCExporter(t *testing.T, c *collector) sdktrace.SpanExporter {
	t.Helper()
	exp, err := otlptracegrpc.New(context.Background(),
		otlptracegrpc.WithEndpoint(c.GRPCAddr), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatalf("otlptracegrpc: %v", err)
	}
	return exp
}

func newHTTPExporter(t *testing.T, c *collector) sdktrace.SpanExporter {
	t.Helper()
	exp, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpoint(c.HTTPAddr), otlptracehttp.WithInsecure())
	if err != nil {
		t.Fatalf("otlptracehttp: %v", err)
	}
	return exp
}

// TestIngestWithOTelSDK sends spans the way an instrumented agent does, over
// both OTLP transports, with and without Agent Lightning's rollout labels,
// and reads them back through the store API.
func TestIngestWithOTelSDK(t *testing.T) {
	requireBinary(t)
	c := startCollector(t, t.TempDir())

	tests := []struct {
		name        string
		newExporter func(*testing.T, *collector) sdktrace.SpanExporter
		// rolloutID and attemptID label the run through resource attributes,
		// as OTEL_RESOURCE_ATTRIBUTES would; empty means unlabelled.
		rolloutID, attemptID string
	}{
		{name: "grpc/labelled", newExporter: newGRPCExporter, rolloutID: "ro-e2e-grpc", attemptID: "at-e2e-grpc"},
		{name: "http/labelled", newExporter: newHTTPExporter, rolloutID: "ro-e2e-http", attemptID: "at-e2e-http"},
		{name: "grpc/unlabelled", newExporter: newGRPCExporter},
		{name: "http/unlabelled", newExporter: newHTTPExporter},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var resAttrs []attribute.KeyValue
			if tt.rolloutID != "" {
				resAttrs = append(resAttrs,
					attribute.String("agentlightning.rollout_id", tt.rolloutID),
					attribute.String("agentlightning.attempt_id", tt.attemptID))
			}
			run := sendAgentRun(t, tt.newExporter(t, c), resAttrs...)

			rolloutID, attemptID := tt.rolloutID, tt.attemptID
			if rolloutID == "" {
				// Unlabelled spans land in the automatic rollout of their trace.
				rolloutID, attemptID = "ro-"+run.traceID, "at-"+run.traceID
			}
			spans := waitForSpans(t, c, rolloutID, attemptID, len(run.names))
			requireSequence(t, spans, run.names)
			requireRunningRollout(t, c, rolloutID, attemptID)

			for _, s := range spans {
				if s.RolloutID != rolloutID || s.AttemptID != attemptID {
					t.Errorf("span %s filed under %s/%s, want %s/%s", s.Name, s.RolloutID, s.AttemptID, rolloutID, attemptID)
				}
				if s.TraceID != run.traceID || s.Context == nil || s.Context.TraceID != run.traceID || s.Context.SpanID != s.SpanID {
					t.Errorf("span %s: trace_id %s context %+v, want trace %s", s.Name, s.TraceID, s.Context, run.traceID)
				}
				if len(s.SpanID) != 16 {
					t.Errorf("span %s: span_id %q is not 16 hex characters", s.Name, s.SpanID)
				}
				if s.StartTime == nil || s.EndTime == nil || *s.EndTime < *s.StartTime {
					t.Errorf("span %s: start_time %v end_time %v", s.Name, s.StartTime, s.EndTime)
				}
				if got := s.Resource.Attributes["service.name"]; got != "e2e-agent" {
					t.Errorf("span %s: resource service.name = %v", s.Name, got)
				}
				if tt.rolloutID != "" && s.Resource.Attributes["agentlightning.rollout_id"] != tt.rolloutID {
					t.Errorf("span %s: resource attributes %v lack the rollout label", s.Name, s.Resource.Attributes)
				}
				isRoot := s.Name == "agent.run"
				if isRoot != (s.ParentID == nil) {
					t.Errorf("span %s: parent_id %v", s.Name, s.ParentID)
				}
				if isRoot && s.Status.StatusCode != "OK" {
					t.Errorf("root status = %q, want OK", s.Status.StatusCode)
				}
				if !isRoot && s.Attributes["gen_ai.operation.name"] != "chat" {
					t.Errorf("span %s: attributes %v", s.Name, s.Attributes)
				}
			}
		})
	}
}
