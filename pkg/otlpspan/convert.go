package otlpspan

import (
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// ConvertResource converts the resource of a ResourceSpans; the schema url is
// the ResourceSpans' one, as in Agent Lightning.
func ConvertResource(rs ptrace.ResourceSpans) model.OtelResource {
	return model.OtelResource{
		Attributes: ConvertAttributes(rs.Resource().Attributes()),
		SchemaURL:  rs.SchemaUrl(),
	}
}

// ConvertSpan converts one OTLP span. The rollout, attempt and sequence ids
// are left empty; the Resolver fills them. res is stored as it is (not
// copied).
func ConvertSpan(span ptrace.Span, res model.OtelResource) model.Span {
	traceID := span.TraceID()
	spanID := span.SpanID()
	out := model.Span{
		TraceID:    TraceIDHex(traceID[:]),
		SpanID:     SpanIDHex(spanID[:]),
		Name:       span.Name(),
		Status:     convertStatus(span.Status()),
		Attributes: ConvertAttributes(span.Attributes()),
		Events:     convertEvents(span.Events()),
		Links:      convertLinks(span.Links()),
		StartTime:  Timestamp(span.StartTimestamp()),
		EndTime:    Timestamp(span.EndTimestamp()),
		Resource:   res,
	}
	if parent := span.ParentSpanID(); !parent.IsEmpty() {
		p := SpanIDHex(parent[:])
		out.ParentID = &p
	}
	out.Context = newContext(out.TraceID, out.SpanID)
	return out
}

func newContext(traceID, spanID string) *model.SpanContext {
	return &model.SpanContext{TraceID: traceID, SpanID: spanID, TraceState: map[string]string{}}
}

func convertStatus(st ptrace.Status) model.TraceStatus {
	out := model.TraceStatus{StatusCode: statusName(st.Code())}
	if msg := st.Message(); msg != "" {
		out.Description = &msg
	}
	return out
}

// statusName maps the OTLP status code to Agent Lightning's name; unknown
// codes are UNSET, as in spans_from_proto.
func statusName(c ptrace.StatusCode) string {
	switch c {
	case ptrace.StatusCodeOk:
		return model.StatusOK
	case ptrace.StatusCodeError:
		return model.StatusError
	default:
		return model.StatusUnset
	}
}

func convertEvents(events ptrace.SpanEventSlice) []model.Event {
	out := make([]model.Event, 0, events.Len())
	for _, e := range events.All() {
		out = append(out, model.Event{
			Name:       e.Name(),
			Attributes: ConvertAttributes(e.Attributes()),
			Timestamp:  Timestamp(e.Timestamp()),
		})
	}
	return out
}

// convertLinks keeps Agent Lightning's quirk of a null attributes map for a
// link without attributes (events, by contrast, always get a map).
func convertLinks(links ptrace.SpanLinkSlice) []model.Link {
	out := make([]model.Link, 0, links.Len())
	for _, l := range links.All() {
		traceID := l.TraceID()
		spanID := l.SpanID()
		link := model.Link{Context: *newContext(TraceIDHex(traceID[:]), SpanIDHex(spanID[:]))}
		if l.Attributes().Len() > 0 {
			link.Attributes = ConvertAttributes(l.Attributes())
		}
		out = append(out, link)
	}
	return out
}
