package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
)

// TestAgentLightningTracesEndpoint sends spans the way Agent Lightning's
// tracer does: OTLP/HTTP protobuf, gzip, to /v1/traces on the store port,
// with the rollout and attempt of a started rollout as resource attributes.
// They must go through the pipeline into the store as heartbeats.
func TestAgentLightningTracesEndpoint(t *testing.T) {
	requireBinary(t)
	c := startCollector(t, t.TempDir())

	var started wireRollout
	postJSONStatus(t, c.api("/v1/agl/rollouts"), http.StatusCreated, map[string]any{"input": map[string]any{"q": "2+2"}}, &started)
	if started.Attempt == nil || started.Status != "preparing" {
		t.Fatalf("start_rollout: %+v", started)
	}

	exp, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(c.api("/v1/traces")),
		otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	if err != nil {
		t.Fatal(err)
	}
	run := sendAgentRun(t, exp,
		attribute.String("agentlightning.rollout_id", started.RolloutID),
		attribute.String("agentlightning.attempt_id", started.Attempt.AttemptID))

	// Like Agent Lightning's server, the collector numbers the spans before it
	// acknowledges the export (it answers once they are committed): a span
	// added right after comes next.
	var next struct {
		SequenceID int `json:"sequence_id"`
	}
	postJSON(t, c.api("/v1/agl/spans/next"), map[string]any{"rollout_id": started.RolloutID, "attempt_id": started.Attempt.AttemptID}, &next)
	if next.SequenceID != len(run.names)+1 {
		t.Fatalf("next sequence id right after the export: %d, want %d", next.SequenceID, len(run.names)+1)
	}

	spans := waitForSpans(t, c, started.RolloutID, started.Attempt.AttemptID, len(run.names))
	requireSequence(t, spans, run.names)
	eventually(t, 10*time.Second, func() error {
		r := queryRollouts(t, c, started.RolloutID)
		if len(r.Items) != 1 || r.Items[0].Status != "running" || r.Items[0].Attempt.Status != "running" {
			return notYet("rollout not running after spans: %+v", r.Items)
		}
		return nil
	})
}

// TestAgentLightningTracesRejectsUnlabeled checks Agent Lightning's rule that
// spans without rollout and attempt ids are not stored, reported as OTLP
// partial success rather than an error the exporter would retry.
func TestAgentLightningTracesRejectsUnlabeled(t *testing.T) {
	requireBinary(t)
	c := startCollector(t, t.TempDir())

	td := ptrace.NewTraces()
	span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetName("unlabeled")
	span.SetTraceID([16]byte{1, 2, 3})
	span.SetSpanID([8]byte{4, 5, 6})
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, _ = w.Write(body)
	_ = w.Close()

	req, _ := http.NewRequest(http.MethodPost, c.api("/v1/traces"), &gz)
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, raw)
	}
	out := ptraceotlp.NewExportResponse()
	if err := out.UnmarshalProto(raw); err != nil {
		t.Fatal(err)
	}
	if out.PartialSuccess().RejectedSpans() != 1 {
		t.Fatalf("rejected %d, message %q", out.PartialSuccess().RejectedSpans(), out.PartialSuccess().ErrorMessage())
	}
	rollouts := queryRollouts(t, c)
	if len(rollouts.Items) != 0 {
		t.Fatalf("unlabeled span created rollouts: %+v", rollouts.Items)
	}
}
