package aglv1

import (
	"encoding/hex"
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// AttrEventTimestamp keeps an event's timestamp exactly (span times are
// whole nanoseconds, which a float of Unix seconds does not round-trip).
const AttrEventTimestamp = "agentlightning.v1.timestamp"

// EventTraces is EventSpan as an OTLP export, for the traces pipeline: the
// rollout and attempt ids on the resource, as Agent Lightning's tracers put
// them, so the pipeline's processors and connectors (rewards, chat records)
// see the event like any other span.
func EventTraces(ev model.V1Event) ptrace.Traces {
	s := EventSpan(ev)
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	res := rs.Resource().Attributes()
	res.PutStr("service.name", "agentlightning-v1")
	res.PutStr("agentlightning.rollout_id", ev.RolloutID)
	res.PutStr("agentlightning.attempt_id", ev.AttemptID)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("github.com/otelcol-lightning/otelcol-lightning/pkg/aglv1")
	span := ss.Spans().AppendEmpty()
	var tid pcommon.TraceID
	var sid pcommon.SpanID
	_, _ = hex.Decode(tid[:], []byte(s.TraceID))
	_, _ = hex.Decode(sid[:], []byte(s.SpanID))
	span.SetTraceID(tid)
	span.SetSpanID(sid)
	span.SetName(s.Name)
	span.SetKind(ptrace.SpanKindInternal)
	ts := pcommon.Timestamp(uint64(math.Round(ev.Timestamp * 1e9)))
	span.SetStartTimestamp(ts)
	span.SetEndTimestamp(ts)
	if s.Status.StatusCode == "ERROR" {
		span.Status().SetCode(ptrace.StatusCodeError)
	} else {
		span.Status().SetCode(ptrace.StatusCodeOk)
	}
	attrs := span.Attributes()
	for k, v := range s.Attributes {
		putAttr(attrs, k, v)
	}
	attrs.PutDouble(AttrEventTimestamp, ev.Timestamp)
	return td
}

// putAttr writes the attribute value kinds EventSpan produces.
func putAttr(m pcommon.Map, k string, v any) {
	switch t := v.(type) {
	case string:
		m.PutStr(k, t)
	case int64:
		m.PutInt(k, t)
	case float64:
		m.PutDouble(k, t)
	case bool:
		m.PutBool(k, t)
	case []any:
		sl := m.PutEmptySlice(k)
		for _, x := range t {
			switch y := x.(type) {
			case int64:
				sl.AppendEmpty().SetInt(y)
			case float64:
				sl.AppendEmpty().SetDouble(y)
			case string:
				sl.AppendEmpty().SetStr(y)
			}
		}
	}
}
