package otlpspan

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

const baseNanos = 1_700_000_000_000_000_000

func repeatedID16(b byte) pcommon.TraceID {
	var id pcommon.TraceID
	for i := range id {
		id[i] = b
	}
	return id
}

func repeatedID8(b byte) pcommon.SpanID {
	var id pcommon.SpanID
	for i := range id {
		id[i] = b
	}
	return id
}

func mustConvert(t *testing.T, cfg Config, td ptrace.Traces) ([]model.Span, Stats) {
	t.Helper()
	r, err := NewResolver(cfg)
	require.NoError(t, err)
	items, stats := r.Convert(td)
	spans := make([]model.Span, len(items))
	for i, it := range items {
		spans[i] = it.Span
	}
	return spans, stats
}

// Agent Lightning's "span-level metadata wins" case, with every converted
// field checked.
func TestConvertSpanLevelMetadataWins(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.SetSchemaUrl("https://opentelemetry.io/schemas/1.21.0")
	ra := rs.Resource().Attributes()
	ra.PutStr(AttrRolloutID, "resource-rollout")
	ra.PutStr(AttrAttemptID, "resource-attempt")
	ra.PutStr(AttrSpanSequenceID, "5")
	span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetName("work")
	span.SetTraceID(repeatedID16(0x01))
	span.SetSpanID(repeatedID8(0x02))
	span.SetParentSpanID(repeatedID8(0x03))
	span.SetStartTimestamp(baseNanos)
	span.SetEndTimestamp(baseNanos + 5e9)
	span.Status().SetCode(ptrace.StatusCodeError)
	span.Status().SetMessage("boom")
	span.Attributes().PutStr(AttrRolloutID, "span-rollout")
	span.Attributes().PutStr(AttrAttemptID, "span-attempt")
	span.Attributes().PutStr(AttrSpanSequenceID, "7")
	ev := span.Events().AppendEmpty()
	ev.SetName("evt")
	ev.SetTimestamp(baseNanos + 3e9)
	link := span.Links().AppendEmpty()
	link.SetTraceID(repeatedID16(0x04))
	link.SetSpanID(repeatedID8(0x05))
	link.Attributes().PutBool("link-attr", true)

	spans, stats := mustConvert(t, Config{}, td)
	require.Len(t, spans, 1)
	s := spans[0]
	assert.Equal(t, "span-rollout", s.RolloutID)
	assert.Equal(t, "span-attempt", s.AttemptID)
	assert.Equal(t, 7, s.SequenceID)
	assert.Equal(t, Stats{Spans: 1, Labeled: 1}, stats)

	assert.Equal(t, "01010101010101010101010101010101", s.TraceID)
	assert.Equal(t, "0202020202020202", s.SpanID)
	require.NotNil(t, s.ParentID)
	assert.Equal(t, "0303030303030303", *s.ParentID)
	assert.Equal(t, "work", s.Name)
	assert.Equal(t, model.StatusError, s.Status.StatusCode)
	require.NotNil(t, s.Status.Description)
	assert.Equal(t, "boom", *s.Status.Description)
	assert.Equal(t, "span-rollout", s.Attributes[AttrRolloutID], "agentlightning.* keys stay in the attributes")
	assert.Equal(t, float64(baseNanos)/1e9, *s.StartTime)
	assert.Equal(t, float64(baseNanos+5e9)/1e9, *s.EndTime)

	require.Len(t, s.Events, 1)
	assert.Equal(t, "evt", s.Events[0].Name)
	assert.Equal(t, float64(baseNanos+3e9)/1e9, *s.Events[0].Timestamp)
	assert.Equal(t, model.Attributes{}, s.Events[0].Attributes)

	require.Len(t, s.Links, 1)
	assert.Equal(t, "04040404040404040404040404040404", s.Links[0].Context.TraceID)
	assert.Equal(t, "0505050505050505", s.Links[0].Context.SpanID)
	assert.Equal(t, model.Attributes{"link-attr": true}, s.Links[0].Attributes)

	assert.Equal(t, &model.SpanContext{
		TraceID: s.TraceID, SpanID: s.SpanID, TraceState: map[string]string{},
	}, s.Context)
	assert.Nil(t, s.Parent)
	assert.Equal(t, "resource-rollout", s.Resource.Attributes[AttrRolloutID])
	assert.Equal(t, "https://opentelemetry.io/schemas/1.21.0", s.Resource.SchemaURL)
}

// The JSON of a converted span is exactly what Agent Lightning's server
// returns for the same OTLP span.
func TestConvertSpanJSON(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "agent")
	span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetName("root")
	span.SetTraceID(pcommon.TraceID{15: 0xab})
	span.SetSpanID(pcommon.SpanID{7: 0xcd})
	span.SetStartTimestamp(1_500_000_000_000_000_000)
	span.Attributes().PutDouble("temperature", 1)
	span.Attributes().PutInt("tokens", 12)
	span.Attributes().PutStr(AttrRolloutID, "ro-1")
	span.Attributes().PutStr(AttrAttemptID, "at-1")
	span.Links().AppendEmpty()

	spans, _ := mustConvert(t, Config{}, td)
	require.Len(t, spans, 1)
	got, err := json.Marshal(spans[0])
	require.NoError(t, err)
	const want = `{
		"rollout_id": "ro-1", "attempt_id": "at-1", "sequence_id": 0,
		"trace_id": "000000000000000000000000000000ab", "span_id": "00000000000000cd",
		"parent_id": null, "name": "root",
		"status": {"status_code": "UNSET", "description": null},
		"attributes": {"agentlightning.attempt_id": "at-1", "agentlightning.rollout_id": "ro-1", "temperature": 1.0, "tokens": 12},
		"events": [],
		"links": [{"context": {"trace_id": "00000000000000000000000000000000", "span_id": "0000000000000000", "is_remote": false, "trace_state": {}}, "attributes": null}],
		"start_time": 1500000000.0, "end_time": null,
		"context": {"trace_id": "000000000000000000000000000000ab", "span_id": "00000000000000cd", "is_remote": false, "trace_state": {}},
		"parent": null,
		"resource": {"attributes": {"service.name": "agent"}, "schema_url": ""}
	}`
	assert.JSONEq(t, want, string(got))
	assert.Contains(t, string(got), `"temperature":1.0`, "a double keeps its decimal point")
}

func TestConvertMissingSequenceIDAndEmptyIDs(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr(AttrRolloutID, "r1")
	rs.Resource().Attributes().PutStr(AttrAttemptID, "a1")
	rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("s")

	spans, stats := mustConvert(t, Config{}, td)
	require.Len(t, spans, 1)
	assert.Equal(t, 0, spans[0].SequenceID, "left for the store to allocate")
	assert.Equal(t, "r1", spans[0].RolloutID)
	assert.Equal(t, "a1", spans[0].AttemptID)
	assert.Equal(t, "00000000000000000000000000000000", spans[0].TraceID)
	assert.Equal(t, "0000000000000000", spans[0].SpanID)
	assert.Nil(t, spans[0].ParentID)
	assert.Nil(t, spans[0].StartTime)
	assert.Equal(t, Stats{Spans: 1, Labeled: 1}, stats)
}

func TestConvertBulkMixed(t *testing.T) {
	td := ptrace.NewTraces()
	rs1 := td.ResourceSpans().AppendEmpty()
	rs1.Resource().Attributes().PutStr(AttrRolloutID, "r1")
	ss := rs1.ScopeSpans().AppendEmpty()
	s1 := ss.Spans().AppendEmpty()
	s1.SetName("one")
	s1.Attributes().PutStr(AttrAttemptID, "a1")
	s2 := ss.Spans().AppendEmpty()
	s2.SetName("two")
	s2.Attributes().PutStr(AttrAttemptID, "a2")
	s2.Attributes().PutStr(AttrSpanSequenceID, "-5")
	rs2 := td.ResourceSpans().AppendEmpty()
	rs2.Resource().Attributes().PutStr(AttrRolloutID, "r2")
	rs2.Resource().Attributes().PutStr(AttrAttemptID, "b1")
	rs2.ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("three")

	spans, stats := mustConvert(t, Config{}, td)
	type key struct{ name, rollout, attempt string }
	var got []key
	for _, s := range spans {
		got = append(got, key{s.Name, s.RolloutID, s.AttemptID})
		assert.Equal(t, 0, s.SequenceID)
	}
	assert.Equal(t, []key{{"one", "r1", "a1"}, {"two", "r1", "a2"}, {"three", "r2", "b1"}}, got)
	assert.Equal(t, Stats{Spans: 3, Labeled: 3, NegativeSequenceID: 1}, stats)
}

func TestConvertNoSpans(t *testing.T) {
	td := ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty()
	r, err := NewResolver(Config{})
	require.NoError(t, err)
	items, stats := r.Convert(td)
	assert.Empty(t, items)
	assert.Equal(t, Stats{}, stats)
}

func TestConvertSequenceID(t *testing.T) {
	tests := []struct {
		name      string
		span      func(pcommon.Map)
		resource  func(pcommon.Map)
		want      int
		wantStats Stats
	}{
		{name: "int", span: func(m pcommon.Map) { m.PutInt(AttrSpanSequenceID, 7) }, want: 7},
		{name: "decimal string", span: func(m pcommon.Map) { m.PutStr(AttrSpanSequenceID, "7") }, want: 7},
		{name: "spaces and sign", span: func(m pcommon.Map) { m.PutStr(AttrSpanSequenceID, " +7 ") }, want: 7},
		{name: "from the resource", resource: func(m pcommon.Map) { m.PutInt(AttrSpanSequenceID, 3) }, want: 3},
		{name: "zero allocates", span: func(m pcommon.Map) { m.PutInt(AttrSpanSequenceID, 0) }, want: 0},
		{
			name: "not an integer", span: func(m pcommon.Map) { m.PutStr(AttrSpanSequenceID, "not-int") },
			wantStats: Stats{InvalidSequenceID: 1},
		},
		{
			name: "double", span: func(m pcommon.Map) { m.PutDouble(AttrSpanSequenceID, 7) },
			wantStats: Stats{InvalidSequenceID: 1},
		},
		{
			name: "bool", span: func(m pcommon.Map) { m.PutBool(AttrSpanSequenceID, true) },
			wantStats: Stats{InvalidSequenceID: 1},
		},
		{
			name: "too large", span: func(m pcommon.Map) { m.PutStr(AttrSpanSequenceID, "99999999999999999999") },
			wantStats: Stats{InvalidSequenceID: 1},
		},
		{
			name: "negative string", span: func(m pcommon.Map) { m.PutStr(AttrSpanSequenceID, "-5") },
			wantStats: Stats{NegativeSequenceID: 1},
		},
		{
			name: "negative int", span: func(m pcommon.Map) { m.PutInt(AttrSpanSequenceID, -1) },
			wantStats: Stats{NegativeSequenceID: 1},
		},
		{
			name:      "an invalid span value still wins over the resource",
			span:      func(m pcommon.Map) { m.PutStr(AttrSpanSequenceID, "not-int") },
			resource:  func(m pcommon.Map) { m.PutInt(AttrSpanSequenceID, 5) },
			wantStats: Stats{InvalidSequenceID: 1},
		},
		{
			name:     "an empty span value falls back to the resource",
			span:     func(m pcommon.Map) { m.PutEmpty(AttrSpanSequenceID) },
			resource: func(m pcommon.Map) { m.PutStr(AttrSpanSequenceID, "5") },
			want:     5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			td := ptrace.NewTraces()
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr(AttrRolloutID, "r")
			rs.Resource().Attributes().PutStr(AttrAttemptID, "a")
			if tt.resource != nil {
				tt.resource(rs.Resource().Attributes())
			}
			span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
			if tt.span != nil {
				tt.span(span.Attributes())
			}
			spans, stats := mustConvert(t, Config{}, td)
			require.Len(t, spans, 1)
			assert.Equal(t, tt.want, spans[0].SequenceID)
			tt.wantStats.Spans, tt.wantStats.Labeled = 1, 1
			assert.Equal(t, tt.wantStats, stats)
		})
	}
}

func TestConvertIDStringForms(t *testing.T) {
	tests := []struct {
		name string
		put  func(m pcommon.Map, key string)
		want string
	}{
		{"string", func(m pcommon.Map, k string) { m.PutStr(k, "x") }, "x"},
		{"empty string is an id", func(m pcommon.Map, k string) { m.PutStr(k, "") }, ""},
		{"int", func(m pcommon.Map, k string) { m.PutInt(k, 42) }, "42"},
		{"double", func(m pcommon.Map, k string) { m.PutDouble(k, 2) }, "2.0"},
		{"bool", func(m pcommon.Map, k string) { m.PutBool(k, true) }, "True"},
		{"bytes", func(m pcommon.Map, k string) { m.PutEmptyBytes(k).FromRaw([]byte{0xbe, 0xef}) }, "beef"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			td := ptrace.NewTraces()
			span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
			tt.put(span.Attributes(), AttrRolloutID)
			tt.put(span.Attributes(), AttrAttemptID)
			spans, stats := mustConvert(t, Config{Unlabeled: UnlabeledDrop}, td)
			require.Len(t, spans, 1)
			assert.Equal(t, tt.want, spans[0].RolloutID)
			assert.Equal(t, tt.want, spans[0].AttemptID)
			assert.Equal(t, 1, stats.Labeled)
		})
	}
}

func TestConvertAnyValueRoundTrip(t *testing.T) {
	m := pcommon.NewMap()
	m.PutStr("s", "text")
	m.PutBool("b", true)
	m.PutInt("i", 42)
	m.PutDouble("d", 1.5)
	m.PutDouble("whole", 1)
	arr := m.PutEmptySlice("arr")
	arr.AppendEmpty().SetStr("x")
	arr.AppendEmpty().SetInt(2)
	nested := m.PutEmptyMap("nested")
	nested.PutEmptyBytes("k").FromRaw([]byte{0x01})
	m.PutEmpty("empty")

	got := ConvertAttributes(m)
	want := model.Attributes{
		"s":      "text",
		"b":      true,
		"i":      json.Number("42"),
		"d":      json.Number("1.5"),
		"whole":  json.Number("1.0"),
		"arr":    []any{"x", json.Number("2")},
		"nested": map[string]any{"k": "01"},
		"empty":  nil,
	}
	assert.Equal(t, want, got)

	b, err := json.Marshal(got)
	require.NoError(t, err)
	assert.Equal(t,
		`{"arr":["x",2],"b":true,"d":1.5,"empty":null,"i":42,"nested":{"k":"01"},"s":"text","whole":1.0}`,
		string(b))
}

func TestConvertKVList(t *testing.T) {
	v := pcommon.NewValueMap()
	v.Map().PutInt("num", 10)
	v.Map().PutBool("flag", false)
	assert.Equal(t, map[string]any{"num": json.Number("10"), "flag": false}, ConvertValue(v))
}

func TestFloatValue(t *testing.T) {
	tests := []struct {
		in   float64
		want any
	}{
		{1, json.Number("1.0")},
		{-0.5, json.Number("-0.5")},
		{0, json.Number("0.0")},
		{0.1, json.Number("0.1")},
		{1e-4, json.Number("0.0001")},
		{1.5e-5, json.Number("1.5e-05")},
		{1e15, json.Number("1000000000000000.0")},
		{1e16, json.Number("1e+16")},
		{123456789.125, json.Number("123456789.125")},
		{1.2345678901234568e+17, json.Number("1.2345678901234568e+17")},
		{math.NaN(), "NaN"},
		{math.Inf(1), "Infinity"},
		{math.Inf(-1), "-Infinity"},
	}
	for _, tt := range tests {
		got := FloatValue(tt.in)
		assert.Equal(t, tt.want, got, "%v", tt.in)
		if n, ok := got.(json.Number); ok {
			_, err := json.Marshal(n)
			assert.NoError(t, err, "%v must be a valid JSON number", tt.in)
		}
	}
}

func TestHexHelpers(t *testing.T) {
	assert.Equal(t, "00000000000000000000000000000000", TraceIDHex(nil))
	assert.Equal(t, "0000000000000000", SpanIDHex([]byte{}))
	assert.Equal(t, "000000000000000000000000000000ff", TraceIDHex([]byte{0xff}))
	assert.Equal(t, "00000000000000ff", SpanIDHex([]byte{0xff}))
	assert.Equal(t, "0a0b0c0d0e0f1011", SpanIDHex([]byte{0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11}))
}

func TestTimestamp(t *testing.T) {
	assert.Nil(t, Timestamp(0))
	assert.Equal(t, 42.0, *Timestamp(42), "small values are seconds already")
	assert.Equal(t, 1_700_000_004.0, *Timestamp(1_700_000_004_000_000_000))
}

func TestConvertEventsAndLinks(t *testing.T) {
	span := ptrace.NewSpan()
	ev := span.Events().AppendEmpty()
	ev.SetName("e")
	ev.SetTimestamp(baseNanos + 4e9)
	ev.Attributes().PutStr("alpha", "beta")
	span.Events().AppendEmpty().SetName("no-time")
	link := span.Links().AppendEmpty()
	link.SetTraceID(repeatedID16(0x06))
	link.SetSpanID(repeatedID8(0x07))
	link.Attributes().PutInt("delta", 1)

	s := ConvertSpan(span, model.OtelResource{})
	require.Len(t, s.Events, 2)
	assert.Equal(t, model.Event{
		Name: "e", Attributes: model.Attributes{"alpha": "beta"}, Timestamp: ptr(float64(baseNanos+4e9) / 1e9),
	}, s.Events[0])
	assert.Nil(t, s.Events[1].Timestamp)
	assert.Equal(t, model.Attributes{}, s.Events[1].Attributes)
	require.Len(t, s.Links, 1)
	assert.Equal(t, model.Link{
		Context: model.SpanContext{
			TraceID: "06060606060606060606060606060606", SpanID: "0707070707070707", TraceState: map[string]string{},
		},
		Attributes: model.Attributes{"delta": json.Number("1")},
	}, s.Links[0])
}

func TestConvertResource(t *testing.T) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.SetSchemaUrl("schema")
	rs.Resource().Attributes().PutStr("key", "value")
	assert.Equal(t, model.OtelResource{Attributes: model.Attributes{"key": "value"}, SchemaURL: "schema"}, ConvertResource(rs))
}

func TestConvertStatusCodes(t *testing.T) {
	for code, want := range map[ptrace.StatusCode]string{
		ptrace.StatusCodeUnset: model.StatusUnset,
		ptrace.StatusCodeOk:    model.StatusOK,
		ptrace.StatusCodeError: model.StatusError,
		ptrace.StatusCode(9):   model.StatusUnset,
	} {
		span := ptrace.NewSpan()
		span.Status().SetCode(code)
		s := ConvertSpan(span, model.OtelResource{})
		assert.Equal(t, want, s.Status.StatusCode)
		assert.Nil(t, s.Status.Description)
	}
}

func ptr[T any](v T) *T { return &v }

// Small non-negative ints (token ids) are shared values, equal to what a
// fresh conversion gives; others are converted as before.
func TestIntValueInterning(t *testing.T) {
	for _, n := range []int64{0, 7, 151935, 1<<18 - 1, 1 << 18, -3, 1 << 40} {
		want := json.Number(strconv.FormatInt(n, 10))
		if got := IntValue(n); got != any(want) {
			t.Errorf("IntValue(%d) = %#v, want %#v", n, got, want)
		}
		if got := IntValue(n); got != any(want) {
			t.Errorf("IntValue(%d) the second time = %#v, want %#v", n, got, want)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = IntValue(4242) }); allocs != 0 {
		t.Errorf("a seen token id allocates %v times, want 0", allocs)
	}
}
