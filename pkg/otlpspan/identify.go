package otlpspan

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// SpanIdentity is where a Resolver files one span.
type SpanIdentity struct {
	RolloutID string
	AttemptID string
	// SequenceID is the span's agentlightning.span_sequence_id; 0 when it has
	// none or an invalid one (the store then allocates one).
	SequenceID int
	// Auto is true when the span named no rollout and was given the
	// automatic rollout ro-<key>.
	Auto bool
}

// Resolve applies Convert's identity rules to a single span without
// converting it, for components that must agree with the store exporter on
// where a span goes (the messages connector labels its log records with
// it). ok is false when the span is dropped (UnlabeledDrop).
func (r *Resolver) Resolve(span ptrace.Span, resAttrs pcommon.Map) (id SpanIdentity, ok bool) {
	var stats Stats
	got, ok := r.identify(span, resAttrs, &stats)
	if !ok {
		return SpanIdentity{}, false
	}
	return SpanIdentity{
		RolloutID:  got.rolloutID,
		AttemptID:  got.attemptID,
		SequenceID: got.sequenceID,
		Auto:       stats.Auto > 0,
	}, true
}
