package lightningstoreextension

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
)

// postTraces sends td as OTLP/HTTP protobuf to /v1/traces.
func postTraces(t *testing.T, tr *lightningStore, td ptrace.Traces) (int, ptraceotlp.ExportResponse) {
	t.Helper()
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	require.NoError(t, err)
	resp, err := client.Post("http://"+tr.addr.String()+"/v1/traces", "application/x-protobuf", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := ptraceotlp.NewExportResponse()
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, out.UnmarshalProto(data))
	}
	return resp.StatusCode, out
}

// oneLabeledOneNot is an export with a span of rollout ro-1 / at-1 and a
// span that names no rollout.
func oneLabeledOneNot() ptrace.Traces {
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	labeled := ss.Spans().AppendEmpty()
	labeled.SetName("labeled")
	labeled.SetTraceID(pcommon.TraceID{1})
	labeled.SetSpanID(pcommon.SpanID{1})
	labeled.Attributes().PutStr(otlpspan.AttrRolloutID, "ro-1")
	labeled.Attributes().PutStr(otlpspan.AttrAttemptID, "at-1")
	unlabeled := ss.Spans().AppendEmpty()
	unlabeled.SetName("unlabeled")
	unlabeled.SetTraceID(pcommon.TraceID{2})
	unlabeled.SetSpanID(pcommon.SpanID{2})
	return td
}

func TestTracesEndpointFeedsTheAttachedReceiver(t *testing.T) {
	tr := start(t, testConfig(BackendMemory, ""))
	defer shutdown(t, tr)

	status, _ := postTraces(t, tr, oneLabeledOneNot())
	assert.Equal(t, http.StatusServiceUnavailable, status, "no receiver attached yet: retry later")

	sink := new(consumertest.TracesSink)
	id := component.MustNewID("lightningstore")
	detach, err := tr.AttachTraces(id, sink)
	require.NoError(t, err)
	_, err = tr.AttachTraces(component.MustNewIDWithName("lightningstore", "second"), sink)
	require.ErrorContains(t, err, "already attached to receiver lightningstore")

	status, resp := postTraces(t, tr, oneLabeledOneNot())
	require.Equal(t, http.StatusOK, status)
	assert.EqualValues(t, 1, resp.PartialSuccess().RejectedSpans(), "Agent Lightning's door rule drops the unlabelled span")
	require.Equal(t, 1, sink.SpanCount())
	span := sink.AllTraces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	assert.Equal(t, "labeled", span.Name())
	assert.Equal(t, 2, span.Attributes().Len(), "passed on as received: the store numbers spans when it commits them")

	detach()
	status, _ = postTraces(t, tr, oneLabeledOneNot())
	assert.Equal(t, http.StatusServiceUnavailable, status, "detached")
}

// The door rule of /v1/traces and the pipeline's identity policy are set
// apart: traces.unlabeled: auto lets unlabelled spans in, whatever identity
// says, and identity.unlabeled: drop does not close the door.
func TestTracesDoorRuleIsNotTheIdentityPolicy(t *testing.T) {
	cfg := testConfig(BackendMemory, "")
	cfg.Traces.Unlabeled = otlpspan.UnlabeledAuto
	cfg.Identity.Unlabeled = otlpspan.UnlabeledDrop
	tr := start(t, cfg)
	defer shutdown(t, tr)
	sink := new(consumertest.TracesSink)
	detach, err := tr.AttachTraces(component.MustNewID("lightningstore"), sink)
	require.NoError(t, err)
	defer detach()

	status, resp := postTraces(t, tr, oneLabeledOneNot())
	require.Equal(t, http.StatusOK, status)
	assert.Zero(t, resp.PartialSuccess().RejectedSpans())
	assert.Equal(t, 2, sink.SpanCount())
	assert.Equal(t, otlpspan.UnlabeledDrop, tr.IdentityPolicy().Unlabeled)
}
