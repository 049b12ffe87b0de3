package lightningstorereceiver

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/otelcol-lightning/otelcol-lightning/receiver/lightningstorereceiver/internal/metadata"
)

type host map[component.ID]component.Component

func (h host) GetExtensions() map[component.ID]component.Component { return h }

// fakeSource stands in for the lightningstore extension's attach point.
type fakeSource struct {
	component.StartFunc
	component.ShutdownFunc
	next     consumer.Traces
	detached bool
}

func (f *fakeSource) AttachTraces(_ component.ID, next consumer.Traces) (func(), error) {
	f.next = next
	return func() { f.detached = true; f.next = nil }, nil
}

func traces(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	for i := 0; i < n; i++ {
		ss.Spans().AppendEmpty().SetName("s")
	}
	return td
}

func TestReceiverForwardsIntoPipeline(t *testing.T) {
	sink := new(consumertest.TracesSink)
	rcv, err := NewFactory().CreateTraces(context.Background(), receivertest.NewNopSettings(metadata.Type), createDefaultConfig(), sink)
	require.NoError(t, err)
	src := &fakeSource{}
	require.NoError(t, rcv.Start(context.Background(), host{component.MustNewID("lightningstore"): src}))
	require.NotNil(t, src.next, "receiver did not attach")
	require.NoError(t, src.next.ConsumeTraces(context.Background(), traces(3)))
	assert.Equal(t, 3, sink.SpanCount())
	require.NoError(t, rcv.Shutdown(context.Background()))
	assert.True(t, src.detached)
}

func TestReceiverPropagatesPipelineErrors(t *testing.T) {
	boom := errors.New("queue full")
	rcv, err := NewFactory().CreateTraces(context.Background(), receivertest.NewNopSettings(metadata.Type), createDefaultConfig(), consumertest.NewErr(boom))
	require.NoError(t, err)
	src := &fakeSource{}
	require.NoError(t, rcv.Start(context.Background(), host{component.MustNewID("lightningstore"): src}))
	defer func() { require.NoError(t, rcv.Shutdown(context.Background())) }()
	require.ErrorIs(t, src.next.ConsumeTraces(context.Background(), traces(1)), boom)
}

func TestReceiverStartErrors(t *testing.T) {
	rcv, err := NewFactory().CreateTraces(context.Background(), receivertest.NewNopSettings(metadata.Type), createDefaultConfig(), consumertest.NewNop())
	require.NoError(t, err)
	err = rcv.Start(context.Background(), host{})
	require.ErrorContains(t, err, "extension lightningstore not found")
	ext := struct{ component.Component }{}
	err = rcv.Start(context.Background(), host{component.MustNewID("lightningstore"): ext})
	require.ErrorContains(t, err, "does not serve OTLP traces")
}
