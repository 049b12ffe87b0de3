package lightningstoreexporter // import "github.com/otelcol-lightning/otelcol-lightning/exporter/lightningstoreexporter"

import (
	"crypto/sha256"
	"encoding/binary"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/rewards"
)

// isRewardRecord reports a reward event that carries its reward in Agent
// Lightning's canonical form (agentlightning.reward.N.*): a
// gen_ai.evaluation.result event the reward processor normalised, or an
// agentlightning.annotation event an agent wrote that way. Chat records
// carry their call's reward too, and are not rewards of their own. Deciding
// what a reward is stays with the reward processor and pkg/rewards; the
// exporter only stores the outcome.
func isRewardRecord(lr plog.LogRecord) bool {
	switch recordEventName(lr) {
	case rewards.EvaluationEventName, rewards.AnnotationSpanName:
	default:
		return false
	}
	reading, err := rewards.ReadCanonical(rewards.FromPData(lr.Attributes()))
	return err == nil && len(reading.Dimensions) > 0
}

// recordEventName is the record's EventName, else its event.name attribute
// (SDKs that predate the field).
func recordEventName(lr plog.LogRecord) string {
	if name := lr.EventName(); name != "" {
		return name
	}
	if v, ok := lr.Attributes().Get(rewards.EventNameKey); ok && v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	return ""
}

// isGenAIEvent reports a GenAI event record (gen_ai.user.message,
// gen_ai.choice, gen_ai.client.inference.operation.details, ...) that is
// not a reward: the triplet processor reads those beside the spans, and they
// are no chat record of the messages connector.
func isGenAIEvent(lr plog.LogRecord) bool {
	return strings.HasPrefix(recordEventName(lr), "gen_ai.")
}

// rewardSpans turns reward records into reward spans of the rollout, so a
// reward sent as an OTel log event reaches the same place as one sent as a
// span: Agent Lightning's agentlightning.annotation span, in the record's
// trace, a child of the span the record was emitted under, at the record's
// time, with the record's attributes (the reward, its links to the
// evaluated response, the evaluation itself) and resource. The identity
// policy then files it like any span, and the triplet processor, which
// follows committed spans, rebuilds the attempt with it. Its span id is
// derived from the record, so a record sent twice is stored once.
func rewardSpans(records []rewardRecord) ptrace.Traces {
	td := ptrace.NewTraces()
	byResource := map[int]ptrace.SpanSlice{}
	for _, r := range records {
		spans, ok := byResource[r.resource]
		if !ok {
			rs := td.ResourceSpans().AppendEmpty()
			r.res.CopyTo(rs.Resource())
			ss := rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName("otelcol-lightning/reward-log-records")
			spans = ss.Spans()
			byResource[r.resource] = spans
		}
		lr := r.record
		span := spans.AppendEmpty()
		span.SetName(rewards.AnnotationSpanName)
		span.SetKind(ptrace.SpanKindInternal)
		span.SetTraceID(lr.TraceID())
		span.SetParentSpanID(lr.SpanID())
		span.SetSpanID(recordSpanID(lr))
		ts := lr.Timestamp()
		if ts == 0 {
			ts = lr.ObservedTimestamp()
		}
		span.SetStartTimestamp(ts)
		span.SetEndTimestamp(ts)
		lr.Attributes().CopyTo(span.Attributes())
		if name := lr.EventName(); name != "" {
			span.Attributes().PutStr(rewards.EventNameKey, name)
		}
	}
	return td
}

// rewardRecord is a reward log record with the resource it came with.
type rewardRecord struct {
	resource int
	res      pcommon.Resource
	record   plog.LogRecord
}

// recordSpanID derives a span id from what identifies the record.
func recordSpanID(lr plog.LogRecord) pcommon.SpanID {
	h := sha256.New()
	traceID, spanID := lr.TraceID(), lr.SpanID()
	h.Write(traceID[:])
	h.Write(spanID[:])
	var ts [16]byte
	binary.BigEndian.PutUint64(ts[:8], uint64(lr.Timestamp()))
	binary.BigEndian.PutUint64(ts[8:], uint64(lr.ObservedTimestamp()))
	h.Write(ts[:])
	h.Write([]byte(lr.EventName()))
	keys := make([]string, 0, lr.Attributes().Len())
	for k, v := range lr.Attributes().All() {
		keys = append(keys, k+"="+v.AsString())
	}
	// Map order is the record's wire order, which a resend keeps.
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
	}
	var id pcommon.SpanID
	copy(id[:], h.Sum(nil))
	if id.IsEmpty() {
		id[7] = 1
	}
	return id
}
