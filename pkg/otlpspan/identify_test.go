package otlpspan

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Resolve must file a span exactly where Convert does.
func TestResolveAgreesWithConvert(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		span, res func(pcommon.Map)
		want      SpanIdentity
		dropped   bool
	}{
		{
			name: "span labels win over the resource",
			span: labels(AttrRolloutID, "r-span", AttrAttemptID, "a-span"),
			res:  labels(AttrRolloutID, "r-res", AttrAttemptID, "a-res"),
			want: SpanIdentity{RolloutID: "r-span", AttemptID: "a-span"},
		},
		{
			name: "resource labels and sequence id",
			res:  labels(AttrRolloutID, "r", AttrAttemptID, "a", AttrSpanSequenceID, "7"),
			want: SpanIdentity{RolloutID: "r", AttemptID: "a", SequenceID: 7},
		},
		{
			name: "rollout without attempt",
			span: labels(AttrRolloutID, "r"),
			want: SpanIdentity{RolloutID: "r", AttemptID: AutoAttemptPrefix + traceHex},
		},
		{
			name: "unlabeled goes to the automatic rollout",
			want: SpanIdentity{RolloutID: AutoRolloutPrefix + traceHex, AttemptID: AutoAttemptPrefix + traceHex, Auto: true},
		},
		{
			name: "automatic rollout keyed by an attribute",
			cfg:  Config{AutoKey: "session.id"},
			span: labels("session.id", "s-1"),
			want: SpanIdentity{RolloutID: AutoRolloutPrefix + "s-1", AttemptID: AutoAttemptPrefix + "s-1", Auto: true},
		},
		{
			name:    "unlabeled dropped",
			cfg:     Config{Unlabeled: UnlabeledDrop},
			dropped: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewResolver(tt.cfg)
			require.NoError(t, err)
			td := oneSpan(tt.span, tt.res)
			rs := td.ResourceSpans().At(0)
			got, ok := r.Resolve(rs.ScopeSpans().At(0).Spans().At(0), rs.Resource().Attributes())
			items, _ := r.Convert(td)
			if tt.dropped {
				assert.False(t, ok)
				assert.Empty(t, items)
				return
			}
			require.True(t, ok)
			assert.Equal(t, tt.want, got)
			require.Len(t, items, 1)
			assert.Equal(t, items[0].Span.RolloutID, got.RolloutID)
			assert.Equal(t, items[0].Span.AttemptID, got.AttemptID)
			assert.Equal(t, items[0].Span.SequenceID, got.SequenceID)
		})
	}
}
