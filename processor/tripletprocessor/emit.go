package tripletprocessor

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/tripletspan"
)

const tripletSpanName = tripletspan.SpanName

// emit renders the triplets of one attempt revision as agentlightning.triplet
// spans, each a child of the LLM call it comes from, all in one
// ResourceSpans labelled with the attempt so every exporter can place them.
func emit(j job, triplets []builtTriplet) (ptrace.Traces, error) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(otlpspan.AttrRolloutID, j.key.rollout)
	rs.Resource().Attributes().PutStr(otlpspan.AttrAttemptID, j.key.attempt)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("github.com/otelcol-lightning/otelcol-lightning/processor/tripletprocessor")
	for i, bt := range triplets {
		span := ss.Spans().AppendEmpty()
		if err := fillSpan(span, bt.call); err != nil {
			return td, err
		}
		tripletspan.Write(span.Attributes(), tripletspan.Record{
			Index: i, Count: len(triplets), Revision: j.revision, Triplet: bt.triplet,
		})
	}
	return td, nil
}

func fillSpan(span ptrace.Span, call *model.Span) error {
	span.SetName(tripletSpanName)
	var traceID pcommon.TraceID
	if err := decodeID(call.TraceID, traceID[:]); err != nil {
		return fmt.Errorf("trace id of call %s: %w", call.SpanID, err)
	}
	var parentID pcommon.SpanID
	if err := decodeID(call.SpanID, parentID[:]); err != nil {
		return fmt.Errorf("span id of call: %w", err)
	}
	var id pcommon.SpanID
	_, _ = rand.Read(id[:])
	span.SetTraceID(traceID)
	span.SetParentSpanID(parentID)
	span.SetSpanID(id)
	span.SetKind(ptrace.SpanKindInternal)
	span.SetStartTimestamp(toTimestamp(call.StartTime))
	span.SetEndTimestamp(toTimestamp(call.EndTime))
	span.Status().SetCode(ptrace.StatusCodeOk)
	return nil
}

// decodeID parses a hex id of len(out) bytes into out; ids that are not hex
// of that size (the store accepts any string) are hashed into one so the
// triplet still points at its call.
func decodeID(s string, out []byte) error {
	if s == "" {
		return fmt.Errorf("empty id")
	}
	if b, err := hex.DecodeString(s); err == nil && len(b) == len(out) {
		copy(out, b)
		return nil
	}
	sum := fnv(s)
	for i := range out {
		out[i] = byte(sum >> (8 * (i % 8)))
	}
	return nil
}

func fnv(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func toTimestamp(secs *float64) pcommon.Timestamp {
	if secs == nil {
		return 0
	}
	return pcommon.Timestamp(*secs * 1e9)
}
