package lightningstoreexporter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-lightning/otelcol-lightning/exporter/lightningstoreexporter/internal/metadatatest"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/memstore"
)

// testHost is a component.Host holding the given extensions.
type testHost map[component.ID]component.Component

func (h testHost) GetExtensions() map[component.ID]component.Component { return h }

// providerExt stands in for the lightningstore extension: a store and the
// identity policy.
type providerExt struct {
	component.StartFunc
	component.ShutdownFunc
	st     store.Store
	policy otlpspan.Config // zero: the extension's defaults
}

func (p providerExt) LightningStore() store.Store { return p.st }

func (p providerExt) IdentityPolicy() otlpspan.Config {
	c := p.policy.WithDefaults()
	c.Unknown = ""
	return c
}

// storeOnlyExt provides a store but no identity policy.
type storeOnlyExt struct {
	component.StartFunc
	component.ShutdownFunc
	st store.Store
}

func (p storeOnlyExt) LightningStore() store.Store { return p.st }

// plainExt is an extension that provides no store.
type plainExt struct {
	component.StartFunc
	component.ShutdownFunc
}

func newMemStore(t *testing.T) *store.Core {
	t.Helper()
	st := store.New(memstore.New(), store.Options{})
	t.Cleanup(func() { assert.NoError(t, st.Close()) })
	return st
}

func hostWith(st store.Store) testHost {
	return hostWithPolicy(st, otlpspan.Config{})
}

func hostWithPolicy(st store.Store, policy otlpspan.Config) testHost {
	return testHost{component.MustNewID("lightningstore"): providerExt{st: st, policy: policy}}
}

// newTestHost is the host of the generated lifecycle test.
func newTestHost(t *testing.T) component.Host { return hostWith(newMemStore(t)) }

// syncConfig has no queue, so ConsumeTraces returns once the batch is
// written (or dropped) and its error is the push error.
func syncConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	cfg.RetryConfig.Enabled = false
	return cfg
}

type env struct {
	exp exporter.Traces
	st  store.Store
	tel *componenttest.Telemetry
}

func start(t *testing.T, cfg *Config, st store.Store) *env {
	t.Helper()
	return startWithPolicy(t, cfg, st, otlpspan.Config{})
}

// startWithPolicy starts the exporter with the given identity policy on
// its store extension.
func startWithPolicy(t *testing.T, cfg *Config, st store.Store, policy otlpspan.Config) *env {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	exp, err := NewFactory().CreateTraces(context.Background(), metadatatest.NewSettings(tel), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), hostWithPolicy(st, policy)))
	t.Cleanup(func() { assert.NoError(t, exp.Shutdown(context.Background())) })
	return &env{exp: exp, st: st, tel: tel}
}

// traceSpans builds one ResourceSpans with the given resource attributes and
// spans named name-0..name-(n-1), all in the trace made of traceByte.
func traceSpans(t *testing.T, td ptrace.Traces, traceByte byte, n int, resource map[string]any) {
	t.Helper()
	rs := td.ResourceSpans().AppendEmpty()
	require.NoError(t, rs.Resource().Attributes().FromRaw(resource))
	ss := rs.ScopeSpans().AppendEmpty()
	for i := range n {
		s := ss.Spans().AppendEmpty()
		s.SetName(fmt.Sprintf("span-%d", i))
		s.SetTraceID(pcommon.TraceID{0: traceByte, 15: traceByte})
		s.SetSpanID(pcommon.SpanID{0: traceByte, 7: byte(i + 1)})
		s.SetStartTimestamp(pcommon.Timestamp(1_700_000_000_000_000_000 + uint64(i)*1e9))
		s.SetEndTimestamp(pcommon.Timestamp(1_700_000_000_500_000_000 + uint64(i)*1e9))
		s.Attributes().PutStr("gen_ai.request.model", "gpt-4o-mini")
	}
}

func labeled(rollout, attempt string) map[string]any {
	return map[string]any{otlpspan.AttrRolloutID: rollout, otlpspan.AttrAttemptID: attempt}
}

func spansOf(t *testing.T, st store.Store, rolloutID string) []model.Span {
	t.Helper()
	page, err := st.QuerySpans(context.Background(), store.SpanQuery{RolloutID: rolloutID, Page: store.AllPage()})
	require.NoError(t, err)
	return page.Items
}

func names(spans []model.Span) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name
	}
	return out
}

func seqIDs(spans []model.Span) []int {
	out := make([]int, len(spans))
	for i, s := range spans {
		out[i] = s.SequenceID
	}
	return out
}

func sum(v int64, attrs ...attribute.KeyValue) []metricdata.DataPoint[int64] {
	return []metricdata.DataPoint[int64]{{Value: v, Attributes: attribute.NewSet(attrs...)}}
}

// ignore skips timestamps and the exemplars that the exporterhelper span in
// the context attaches.
var ignore = []metricdatatest.Option{metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars()}

func TestExportLabeledSpans(t *testing.T) {
	e := start(t, syncConfig(), newMemStore(t))
	td := ptrace.NewTraces()
	traceSpans(t, td, 1, 3, labeled("r1", "a1"))
	require.NoError(t, e.exp.ConsumeTraces(context.Background(), td))

	spans := spansOf(t, e.st, "r1")
	assert.Equal(t, []string{"span-0", "span-1", "span-2"}, names(spans))
	assert.Equal(t, []int{1, 2, 3}, seqIDs(spans), "allocated in arrival order")
	assert.Equal(t, "a1", spans[0].AttemptID)
	assert.Equal(t, "01000000000000000000000000000001", spans[0].TraceID)
	assert.Equal(t, "r1", spans[0].Resource.Attributes[otlpspan.AttrRolloutID])
	assert.Equal(t, 1_700_000_000.0, *spans[0].StartTime)

	r, err := e.st.GetRollout(context.Background(), "r1")
	require.NoError(t, err)
	require.NotNil(t, r)
	assert.Equal(t, model.RolloutRunning, r.Status)
	assert.JSONEq(t, `{"source":"otlp"}`, string(r.Metadata))

	// A second batch continues the rollout's sequence.
	td = ptrace.NewTraces()
	traceSpans(t, td, 2, 2, labeled("r1", "a1"))
	require.NoError(t, e.exp.ConsumeTraces(context.Background(), td))
	assert.Equal(t, []int{1, 2, 3, 4, 5}, seqIDs(spansOf(t, e.st, "r1")))

	metadatatest.AssertEqualExporterLightningstoreSpansStored(t, e.tel, sum(5), ignore...)
	got, err := e.tel.GetMetric("otelcol_exporter_lightningstore_write_duration")
	require.NoError(t, err)
	hist := got.Data.(metricdata.Histogram[float64])
	require.Len(t, hist.DataPoints, 1)
	assert.Equal(t, uint64(2), hist.DataPoints[0].Count)
}

func TestExportExplicitAndInvalidSequenceIDs(t *testing.T) {
	e := start(t, syncConfig(), newMemStore(t))
	td := ptrace.NewTraces()
	traceSpans(t, td, 1, 3, labeled("r1", "a1"))
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	spans.At(0).Attributes().PutStr(otlpspan.AttrSpanSequenceID, "10")
	spans.At(1).Attributes().PutStr(otlpspan.AttrSpanSequenceID, "not-int")
	spans.At(2).Attributes().PutInt(otlpspan.AttrSpanSequenceID, -5)
	require.NoError(t, e.exp.ConsumeTraces(context.Background(), td))

	stored := spansOf(t, e.st, "r1")
	bySeq := map[string]int{}
	for _, s := range stored {
		bySeq[s.Name] = s.SequenceID
	}
	assert.Equal(t, 10, bySeq["span-0"])
	assert.Positive(t, bySeq["span-1"])
	assert.Positive(t, bySeq["span-2"])
	assert.NotEqual(t, bySeq["span-1"], bySeq["span-2"])
	metadatatest.AssertEqualExporterLightningstoreSequenceIdsInvalid(t, e.tel, sum(2), ignore...)
}

func TestExportAutoRollouts(t *testing.T) {
	e := start(t, syncConfig(), newMemStore(t))
	td := ptrace.NewTraces()
	traceSpans(t, td, 0xa1, 2, nil)
	traceSpans(t, td, 0xb2, 1, map[string]any{"service.name": "agent"})
	require.NoError(t, e.exp.ConsumeTraces(context.Background(), td))

	for _, tc := range []struct {
		traceID string
		want    []string
	}{
		{"a10000000000000000000000000000a1", []string{"span-0", "span-1"}},
		{"b20000000000000000000000000000b2", []string{"span-0"}},
	} {
		rolloutID := "ro-" + tc.traceID
		spans := spansOf(t, e.st, rolloutID)
		assert.Equal(t, tc.want, names(spans))
		for _, s := range spans {
			assert.Equal(t, "at-"+tc.traceID, s.AttemptID)
		}
		r, err := e.st.GetRollout(context.Background(), rolloutID)
		require.NoError(t, err)
		require.NotNil(t, r)
		assert.Equal(t, model.RolloutRunning, r.Status)
		assert.JSONEq(t, `{"source":"auto"}`, string(r.Metadata))
		require.NotNil(t, r.Attempt)
		assert.Equal(t, "at-"+tc.traceID, r.Attempt.AttemptID)
		assert.Equal(t, model.AttemptRunning, r.Attempt.Status)
	}
	metadatatest.AssertEqualExporterLightningstoreSpansAutoRollout(t, e.tel, sum(3), ignore...)
	metadatatest.AssertEqualExporterLightningstoreSpansStored(t, e.tel, sum(3), ignore...)
}

func TestExportAutoRolloutKeyAttribute(t *testing.T) {
	e := startWithPolicy(t, syncConfig(), newMemStore(t), otlpspan.Config{AutoKey: "gen_ai.conversation.id"})
	td := ptrace.NewTraces()
	traceSpans(t, td, 1, 1, map[string]any{"gen_ai.conversation.id": "conv-7"})
	traceSpans(t, td, 2, 1, map[string]any{"gen_ai.conversation.id": "conv-7"})
	require.NoError(t, e.exp.ConsumeTraces(context.Background(), td))
	spans := spansOf(t, e.st, "ro-conv-7")
	assert.Len(t, spans, 2, "two traces of one conversation share a rollout")
	assert.Equal(t, "at-conv-7", spans[0].AttemptID)
}

// A span naming a rollout but no attempt goes to attempt at-<trace id>.
func TestExportRolloutWithoutAttempt(t *testing.T) {
	e := start(t, syncConfig(), newMemStore(t))
	td := ptrace.NewTraces()
	traceSpans(t, td, 1, 2, map[string]any{otlpspan.AttrRolloutID: "my-experiment"})
	require.NoError(t, e.exp.ConsumeTraces(context.Background(), td))

	spans := spansOf(t, e.st, "my-experiment")
	require.Len(t, spans, 2)
	assert.Equal(t, "at-01000000000000000000000000000001", spans[0].AttemptID)
	r, err := e.st.GetRollout(context.Background(), "my-experiment")
	require.NoError(t, err)
	require.NotNil(t, r)
	assert.JSONEq(t, `{"source":"otlp"}`, string(r.Metadata))
}

// The identity policy is the store extension's: unlabeled: drop there makes
// the exporter drop unlabelled spans.
func TestExportDropUnlabeled(t *testing.T) {
	e := startWithPolicy(t, syncConfig(), newMemStore(t), otlpspan.Config{Unlabeled: otlpspan.UnlabeledDrop})
	td := ptrace.NewTraces()
	traceSpans(t, td, 1, 2, nil)
	traceSpans(t, td, 2, 1, labeled("r1", "a1"))
	require.NoError(t, e.exp.ConsumeTraces(context.Background(), td))

	page, err := e.st.QueryRollouts(context.Background(), store.RolloutQuery{Page: store.AllPage()})
	require.NoError(t, err)
	require.Len(t, page.Items, 1)
	assert.Equal(t, "r1", page.Items[0].RolloutID)
	metadatatest.AssertEqualExporterLightningstoreSpansUnlabeledDropped(t, e.tel, sum(2), ignore...)
	metadatatest.AssertEqualExporterLightningstoreSpansStored(t, e.tel, sum(1), ignore...)
}

func TestExportRejectUnknown(t *testing.T) {
	ctx := context.Background()
	st := newMemStore(t)
	known, err := st.StartRollout(ctx, store.StartRolloutRequest{})
	require.NoError(t, err)
	require.NotNil(t, known.Attempt)

	cfg := syncConfig()
	cfg.UnknownRollouts = otlpspan.UnknownReject
	e := start(t, cfg, st)
	td := ptrace.NewTraces()
	traceSpans(t, td, 1, 2, labeled(known.RolloutID, known.Attempt.AttemptID))
	traceSpans(t, td, 2, 3, labeled("ro-unknown", "at-unknown"))
	traceSpans(t, td, 3, 1, labeled(known.RolloutID, "at-unknown"))
	require.NoError(t, e.exp.ConsumeTraces(ctx, td), "rejections inside a stored batch are not errors")

	assert.Len(t, spansOf(t, st, known.RolloutID), 2)
	r, err := st.GetRollout(ctx, "ro-unknown")
	require.NoError(t, err)
	assert.Nil(t, r, "not created under reject")

	metadatatest.AssertEqualExporterLightningstoreSpansStored(t, e.tel, sum(2), ignore...)
	metadatatest.AssertEqualExporterLightningstoreSpansRejected(t, e.tel, []metricdata.DataPoint[int64]{
		{Value: 3, Attributes: attribute.NewSet(attribute.String("reason", "unknown_rollout"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "unknown_attempt"))},
	}, ignore...)
}

func TestExportDuplicates(t *testing.T) {
	e := start(t, syncConfig(), newMemStore(t))
	td := ptrace.NewTraces()
	traceSpans(t, td, 1, 3, labeled("r1", "a1"))
	require.NoError(t, e.exp.ConsumeTraces(context.Background(), td))
	require.NoError(t, e.exp.ConsumeTraces(context.Background(), td), "duplicates are not errors")

	assert.Len(t, spansOf(t, e.st, "r1"), 3)
	metadatatest.AssertEqualExporterLightningstoreSpansStored(t, e.tel, sum(3), ignore...)
	metadatatest.AssertEqualExporterLightningstoreSpansDuplicate(t, e.tel, sum(3), ignore...)
}

// With the default sending queue the write happens in the background.
func TestExportThroughQueue(t *testing.T) {
	e := start(t, createDefaultConfig().(*Config), newMemStore(t))
	td := ptrace.NewTraces()
	traceSpans(t, td, 1, 4, labeled("r1", "a1"))
	require.NoError(t, e.exp.ConsumeTraces(context.Background(), td))
	require.Eventually(t, func() bool { return len(spansOf(t, e.st, "r1")) == 4 }, 5*time.Second, 5*time.Millisecond)
}

func TestStartErrors(t *testing.T) {
	tests := []struct {
		name    string
		host    testHost
		wantErr string
	}{
		{
			name:    "missing extension",
			host:    testHost{},
			wantErr: "extension lightningstore not found; is it listed under service.extensions?",
		},
		{
			name:    "not a provider",
			host:    testHost{component.MustNewID("lightningstore"): plainExt{}},
			wantErr: "extension lightningstore does not provide an Agent Lightning store",
		},
		{
			name:    "no store",
			host:    testHost{component.MustNewID("lightningstore"): providerExt{}},
			wantErr: "extension lightningstore has no store",
		},
		{
			name:    "no identity policy",
			host:    testHost{component.MustNewID("lightningstore"): storeOnlyExt{st: newMemStore(t)}},
			wantErr: "extension lightningstore does not provide the identity policy; store must name a lightningstore extension",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp, err := NewFactory().CreateTraces(context.Background(), metadatatest.NewSettings(componenttest.NewTelemetry()), syncConfig())
			require.NoError(t, err)
			assert.EqualError(t, exp.Start(context.Background(), tt.host), tt.wantErr)
			assert.NoError(t, exp.Shutdown(context.Background()))
		})
	}
}

func TestStartNamedStore(t *testing.T) {
	cfg := syncConfig()
	cfg.Store = component.MustNewIDWithName("lightningstore", "b")
	st := newMemStore(t)
	exp, err := NewFactory().CreateTraces(context.Background(), metadatatest.NewSettings(componenttest.NewTelemetry()), cfg)
	require.NoError(t, err)
	err = exp.Start(context.Background(), hostWith(st))
	assert.EqualError(t, err, "extension lightningstore/b not found; is it listed under service.extensions?")
	require.NoError(t, exp.Start(context.Background(), testHost{cfg.Store: providerExt{st: st}}))
	require.NoError(t, exp.Shutdown(context.Background()))
}

// failingStore fails IngestSpans with err the first `times` calls, then
// delegates.
type failingStore struct {
	store.Store
	err   error
	times int32
	calls atomic.Int32
}

func (f *failingStore) IngestSpans(ctx context.Context, items []store.IngestItem) (store.IngestResult, error) {
	if f.calls.Add(1) <= f.times {
		return store.IngestResult{}, f.err
	}
	return f.Store.IngestSpans(ctx, items)
}

func TestExportRetryableErrorIsRetried(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"transient", &store.TransientError{Err: errors.New("database is locked")}},
		{"deadline", context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &failingStore{Store: newMemStore(t), err: tc.err, times: 1}
			cfg := syncConfig()
			cfg.RetryConfig.Enabled = true
			cfg.RetryConfig.InitialInterval = time.Millisecond
			cfg.RetryConfig.MaxInterval = 5 * time.Millisecond
			cfg.RetryConfig.MaxElapsedTime = 5 * time.Second
			e := start(t, cfg, st)

			td := ptrace.NewTraces()
			traceSpans(t, td, 1, 3, nil)
			require.NoError(t, e.exp.ConsumeTraces(context.Background(), td))
			assert.Equal(t, int32(2), st.calls.Load())
			assert.Len(t, spansOf(t, st, "ro-01000000000000000000000000000001"), 3)
			metadatatest.AssertEqualExporterLightningstoreSpansStored(t, e.tel, sum(3), ignore...)
			// Conversion counters count the batch once, not once per try.
			metadatatest.AssertEqualExporterLightningstoreSpansAutoRollout(t, e.tel, sum(3), ignore...)
		})
	}
}

func TestExportPermanentErrorIsDropped(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"store error", &store.Error{Type: "ValueError", Message: "bad"}},
		{"backend error", errors.New("disk I/O error")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &failingStore{Store: newMemStore(t), err: tc.err, times: 100}
			cfg := syncConfig()
			cfg.RetryConfig.Enabled = true
			cfg.RetryConfig.InitialInterval = time.Millisecond
			e := start(t, cfg, st)

			td := ptrace.NewTraces()
			traceSpans(t, td, 1, 2, labeled("r1", "a1"))
			err := e.exp.ConsumeTraces(context.Background(), td)
			require.Error(t, err)
			assert.True(t, consumererror.IsPermanent(err))
			assert.ErrorIs(t, err, tc.err)
			assert.Equal(t, int32(1), st.calls.Load(), "not retried")
			assert.Empty(t, spansOf(t, st, "r1"))
		})
	}
}

func TestRejectionReason(t *testing.T) {
	assert.Equal(t, reasonUnknownRollout, rejectionReason(&store.Error{Type: "ValueError", Message: "Rollout ro-1 not found"}))
	assert.Equal(t, reasonUnknownAttempt, rejectionReason(&store.Error{Type: "ValueError", Message: "Attempt at-1 not found for rollout ro-1"}))
	assert.Equal(t, reasonOther, rejectionReason(&store.Error{Type: "ValueError", Message: "something else"}))
	assert.Equal(t, reasonOther, rejectionReason(errors.New("plain")))
}

func TestCreatedRolloutMetadataIsJSON(t *testing.T) {
	var v map[string]string
	require.NoError(t, json.Unmarshal(otlpspan.AutoMetadata, &v))
	require.NoError(t, json.Unmarshal(otlpspan.OTLPMetadata, &v))
}
