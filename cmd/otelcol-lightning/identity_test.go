package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// host holds the extensions the pipeline components look up.
type host map[component.ID]component.Component

func (h host) GetExtensions() map[component.ID]component.Component { return h }

// unlabeledLLMCall is one LLM call span that names no rollout.
func unlabeledLLMCall() ptrace.Traces {
	td := ptrace.NewTraces()
	s := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	s.SetTraceID(pcommon.TraceID{0xab, 1})
	s.SetSpanID(pcommon.SpanID{1})
	s.SetName("openai.chat.completion")
	start := time.Unix(1700000000, 0)
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Second)))
	a := s.Attributes()
	a.PutStr("gen_ai.system", "openai")
	a.PutStr("gen_ai.request.model", "qwen")
	a.PutStr("gen_ai.response.id", "resp-1")
	a.PutStr("gen_ai.prompt.0.role", "user")
	a.PutStr("gen_ai.prompt.0.content", "what is 2+2?")
	a.PutStr("gen_ai.completion.0.role", "assistant")
	a.PutStr("gen_ai.completion.0.content", "4")
	return td
}

func unmarshal(t *testing.T, cfg component.Config, raw map[string]any) {
	t.Helper()
	require.NoError(t, confmap.NewFromStringMap(raw).Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
}

// TestIdentityPolicyHasOneOwner wires the distribution's own factories as the
// collector would: the identity policy is configured on the lightningstore
// extension only; the exporter and the messages connector apply it, and the
// triplet processor builds the attempts the store holds.
func TestIdentityPolicyHasOneOwner(t *testing.T) {
	factories, err := components()
	require.NoError(t, err)
	typ := component.MustNewType("lightningstore")
	for _, tc := range []struct {
		unlabeled string
		want      int // rollouts stored, records emitted, triplets built
	}{
		{"auto", 1},
		{"drop", 0},
	} {
		t.Run(tc.unlabeled, func(t *testing.T) {
			ctx := context.Background()
			ef := factories.Extensions[typ]
			ecfg := ef.CreateDefaultConfig()
			unmarshal(t, ecfg, map[string]any{
				"endpoint": "localhost:0",
				"store":    map[string]any{"backend": "memory"},
				"identity": map[string]any{"unlabeled": tc.unlabeled},
			})
			ext, err := ef.Create(ctx, extensiontest.NewNopSettings(typ), ecfg)
			require.NoError(t, err)
			require.NoError(t, ext.Start(ctx, componenttest.NewNopHost()))
			defer func() { require.NoError(t, ext.Shutdown(ctx)) }()
			h := host{component.NewID(typ): ext}

			// The processor follows what the store commits, so it starts
			// before the exporter writes.
			triplet := component.MustNewType("triplet")
			pf := factories.Processors[triplet]
			proc, err := pf.CreateTraces(ctx, processortest.NewNopSettings(triplet), pf.CreateDefaultConfig(), consumertest.NewNop())
			require.NoError(t, err)
			require.NoError(t, proc.Start(ctx, h))

			xf := factories.Exporters[typ]
			xcfg := xf.CreateDefaultConfig()
			unmarshal(t, xcfg, map[string]any{"sending_queue": map[string]any{"enabled": false}, "retry_on_failure": map[string]any{"enabled": false}})
			exp, err := xf.CreateTraces(ctx, exportertest.NewNopSettings(typ), xcfg)
			require.NoError(t, err)
			require.NoError(t, exp.Start(ctx, h))
			require.NoError(t, exp.ConsumeTraces(ctx, unlabeledLLMCall()))
			require.NoError(t, exp.Shutdown(ctx))
			st := ext.(store.Provider).LightningStore()
			rollouts, err := st.QueryRollouts(ctx, store.RolloutQuery{Page: store.AllPage()})
			require.NoError(t, err)
			assert.Len(t, rollouts.Items, tc.want, "exporter")

			require.NoError(t, proc.Shutdown(ctx), "shutdown builds the open attempts")
			triplets := 0
			for _, r := range rollouts.Items {
				ts, err := st.QueryTriplets(ctx, r.RolloutID, "")
				require.NoError(t, err)
				triplets += len(ts)
			}
			assert.Equal(t, tc.want, triplets, "triplet processor")

			messages := component.MustNewType("messages")
			cf := factories.Connectors[messages]
			records := new(consumertest.LogsSink)
			conn, err := cf.CreateTracesToLogs(ctx, connectortest.NewNopSettings(messages), cf.CreateDefaultConfig(), records)
			require.NoError(t, err)
			require.NoError(t, conn.Start(ctx, h))
			require.NoError(t, conn.ConsumeTraces(ctx, unlabeledLLMCall()))
			require.NoError(t, conn.Shutdown(ctx))
			assert.Equal(t, tc.want, records.LogRecordCount(), "messages connector")

		})
	}
}
