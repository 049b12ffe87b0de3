package depthlimit

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

func nestedJSON(depth int) string {
	return strings.Repeat(`[`, depth) + strings.Repeat(`]`, depth)
}

func TestCheckJSON(t *testing.T) {
	cases := []struct {
		name  string
		doc   string
		limit int
		deep  bool
	}{
		{"at the limit", nestedJSON(5), 5, false},
		{"one over", nestedJSON(6), 5, true},
		{"objects and arrays", `{"a":[{"b":{"c":[1]}}]}`, 5, false},
		{"objects and arrays over", `{"a":[{"b":{"c":[[1]]}}]}`, 5, true},
		{"brackets in strings do not count", `{"a":"[[[[[[[[{{{{{{"}`, 2, false},
		{"escaped quote keeps the string open", `{"a":"\"[[[[[[["}`, 2, false},
		{"escaped backslash closes it", `{"a":"\\","b":[[[1]]]}`, 3, true},
		{"siblings do not add up", `[[1],[2],[3],[[4]]]`, 3, false},
		{"unbalanced closers are not ours", `]]]][[`, 2, false},
		{"scalars", `"x"`, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckJSON([]byte(c.doc), c.limit)
			if !c.deep {
				assert.NoError(t, err)
				return
			}
			var de *Error
			require.ErrorAs(t, err, &de)
			assert.Equal(t, c.limit, de.Limit)
			assert.ErrorIs(t, err, ErrTooDeep)
		})
	}
}

// A reader stops at the first byte over the limit: a hostile body is never
// read to its end.
func TestJSONReaderStopsEarly(t *testing.T) {
	doc := nestedJSON(1_000_000)
	r := JSONReader(strings.NewReader(doc), Max)
	n, err := io.Copy(io.Discard, r)
	require.ErrorIs(t, err, ErrTooDeep)
	assert.Less(t, n, int64(64<<10), "read %d bytes before refusing", n)

	// One byte at a time gives the same answer.
	_, err = io.ReadAll(JSONReader(iotest.OneByteReader(strings.NewReader(nestedJSON(Max+1))), Max))
	require.ErrorIs(t, err, ErrTooDeep)
	b, err := io.ReadAll(JSONReader(iotest.OneByteReader(strings.NewReader(nestedJSON(Max))), Max))
	require.NoError(t, err)
	assert.Equal(t, nestedJSON(Max), string(b))
}

// nestedValue sets v to depth levels of single-element slices (kvlist
// levels when maps is true) around a string.
func nestedValue(v pcommon.Value, depth int, maps bool) {
	for range depth {
		if maps {
			v = v.SetEmptyMap().PutEmpty("k")
		} else {
			v = v.SetEmptySlice().AppendEmpty()
		}
	}
	v.SetStr("leaf")
}

func tracesWith(depth int, maps bool, where string) []byte {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "x")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("scope")
	span := ss.Spans().AppendEmpty()
	span.SetName("s")
	span.SetTraceID([16]byte{1})
	span.SetSpanID([8]byte{1})
	span.Attributes().PutStr("plain", "v")
	var target pcommon.Map
	switch where {
	case "span":
		target = span.Attributes()
	case "resource":
		target = rs.Resource().Attributes()
	case "scope":
		target = ss.Scope().Attributes()
	case "event":
		target = span.Events().AppendEmpty().Attributes()
	case "link":
		target = span.Links().AppendEmpty().Attributes()
	}
	nestedValue(target.PutEmpty("deep"), depth, maps)
	b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		panic(err)
	}
	return b
}

func TestCheckOTLPTraces(t *testing.T) {
	for _, where := range []string{"span", "resource", "scope", "event", "link"} {
		for _, maps := range []bool{false, true} {
			name := where + "/slices"
			if maps {
				name = where + "/maps"
			}
			t.Run(name, func(t *testing.T) {
				assert.NoError(t, CheckOTLP(tracesWith(7, maps, where), TracesRequest, 7))
				err := CheckOTLP(tracesWith(8, maps, where), TracesRequest, 7)
				assert.ErrorIs(t, err, ErrTooDeep)
				// Fed a byte at a time, the scanner agrees.
				_, err = io.ReadAll(OTLPReader(iotest.OneByteReader(bytes.NewReader(tracesWith(8, maps, where))), TracesRequest, 7))
				assert.ErrorIs(t, err, ErrTooDeep)
				_, err = io.ReadAll(OTLPReader(iotest.OneByteReader(bytes.NewReader(tracesWith(7, maps, where))), TracesRequest, 7))
				assert.NoError(t, err)
			})
		}
	}
}

func TestCheckOTLPLogs(t *testing.T) {
	logs := func(depth int, body bool) []byte {
		ld := plog.NewLogs()
		rec := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		if body {
			nestedValue(rec.Body(), depth, false)
		} else {
			nestedValue(rec.Attributes().PutEmpty("deep"), depth, true)
		}
		b, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
		require.NoError(t, err)
		return b
	}
	for _, body := range []bool{true, false} {
		assert.NoError(t, CheckOTLP(logs(5, body), LogsRequest, 5))
		assert.ErrorIs(t, CheckOTLP(logs(6, body), LogsRequest, 5), ErrTooDeep)
	}
}

// Garbage is the decoder's to refuse: the scanner neither fails nor panics.
func TestCheckOTLPGarbage(t *testing.T) {
	for _, b := range [][]byte{
		[]byte("not protobuf at all"),
		{0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		{0x0a, 0x05, 0x0a, 0x10},
		bytes.Repeat([]byte{0x0a}, 1000),
		{0x0b, 0x0c},
	} {
		assert.NoError(t, CheckOTLP(b, TracesRequest, Max))
	}
}

func TestCheckValue(t *testing.T) {
	var v any = "leaf"
	for range 4 {
		v = []any{map[string]any{"k": v}}
	}
	assert.NoError(t, CheckValue(v, 8, "x"))
	assert.ErrorIs(t, CheckValue(v, 7, "x"), ErrTooDeep)
	raw := json.RawMessage(nestedJSON(3))
	assert.NoError(t, CheckValue([]any{raw}, 4, "x"))
	assert.ErrorIs(t, CheckValue([]any{raw}, 3, "x"), ErrTooDeep)
	var de *Error
	require.True(t, errors.As(CheckValue(v, 1, "span attribute"), &de))
	assert.Equal(t, "span attribute nested deeper than 1 levels", de.Error())
}

// maxDepth is the reference: the nesting pdata sees in a decoded request.
func maxDepth(td ptrace.Traces) int {
	var walk func(v pcommon.Value) int
	walk = func(v pcommon.Value) int {
		best := 0
		switch v.Type() {
		case pcommon.ValueTypeSlice:
			for _, e := range v.Slice().All() {
				best = max(best, walk(e))
			}
			return best + 1
		case pcommon.ValueTypeMap:
			for _, e := range v.Map().All() {
				best = max(best, walk(e))
			}
			return best + 1
		}
		return 0
	}
	ofMap := func(m pcommon.Map) int {
		best := 0
		for _, v := range m.All() {
			best = max(best, walk(v))
		}
		return best
	}
	best := 0
	for _, rs := range td.ResourceSpans().All() {
		best = max(best, ofMap(rs.Resource().Attributes()))
		for _, ss := range rs.ScopeSpans().All() {
			best = max(best, ofMap(ss.Scope().Attributes()))
			for _, s := range ss.Spans().All() {
				best = max(best, ofMap(s.Attributes()))
				for _, e := range s.Events().All() {
					best = max(best, ofMap(e.Attributes()))
				}
				for _, l := range s.Links().All() {
					best = max(best, ofMap(l.Attributes()))
				}
			}
		}
	}
	return best
}

// FuzzCheckOTLP checks the scanner against pdata's decoder: it never panics,
// never passes an input pdata decodes to a value deeper than the limit, and
// on the canonical encoding of what pdata decoded it refuses exactly when a
// value nests deeper than the limit. On other encodings it may refuse more:
// it counts every nested value it meets, including one a later field of the
// same oneof replaces (protobuf's last-one-wins), which pdata then drops.
func FuzzCheckOTLP(f *testing.F) {
	f.Add(tracesWith(3, false, "span"), 2)
	f.Add(tracesWith(3, true, "event"), 3)
	f.Add(tracesWith(1, false, "link"), 0)
	f.Add([]byte{0x0a, 0x00}, 1)
	f.Fuzz(func(t *testing.T, b []byte, limit int) {
		limit = min(max(limit, 0), 8)
		err := CheckOTLP(b, TracesRequest, limit)
		td, derr := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
		if derr != nil {
			return
		}
		depth := maxDepth(td)
		if depth > limit && err == nil {
			t.Fatalf("depth %d, limit %d: scanner passed it", depth, limit)
		}
		canonical, merr := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
		if merr != nil {
			t.Fatalf("re-encode: %v", merr)
		}
		cerr := CheckOTLP(canonical, TracesRequest, limit)
		if deep := depth > limit; deep != (cerr != nil) {
			t.Fatalf("canonical encoding: depth %d, limit %d: scanner said %v", depth, limit, cerr)
		}
	})
}

// Max is what every reader at the doors accepts: pdata's protobuf decoder
// reads Max nested kvlistValues (its tightest case) in every position.
func TestMaxIsReadableByPdata(t *testing.T) {
	for _, where := range []string{"span", "resource", "scope", "event", "link"} {
		_, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(tracesWith(Max, true, where))
		assert.NoError(t, err, where)
		var js bytes.Buffer
		td, _ := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(tracesWith(Max, true, where))
		b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
		require.NoError(t, err)
		js.Write(b)
		assert.NoError(t, CheckJSON(js.Bytes(), OTLPJSONMax), "OTLP/JSON of %d kvlist levels in %s", Max, where)
	}
}

// jsonDepth is the reference: the nesting encoding/json's tokenizer sees.
func jsonDepth(b []byte) int {
	dec := json.NewDecoder(bytes.NewReader(b))
	depth, best := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return best
		}
		switch tok {
		case json.Delim('['), json.Delim('{'):
			depth++
			best = max(best, depth)
		case json.Delim(']'), json.Delim('}'):
			depth--
		}
	}
}

// FuzzCheckJSON checks the JSON scanner against encoding/json on valid
// documents, whole and fed in two pieces split anywhere.
func FuzzCheckJSON(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"[{\"]"}],"c":"\\\\"}`), 2, 5)
	f.Add([]byte(nestedJSON(10)), 9, 3)
	f.Add([]byte(`"\\"[["`), 0, 2)
	f.Fuzz(func(t *testing.T, b []byte, limit, split int) {
		if !json.Valid(b) {
			return
		}
		limit = min(max(limit, 0), 64)
		want := jsonDepth(b) > limit
		if got := CheckJSON(b, limit) != nil; got != want {
			t.Fatalf("depth %d, limit %d: scanner refused=%v", jsonDepth(b), limit, got)
		}
		split = min(max(split, 0), len(b))
		s := NewJSONScanner(limit)
		_, err1 := s.Write(b[:split])
		_, err2 := s.Write(b[split:])
		if got := err1 != nil || err2 != nil; got != want {
			t.Fatalf("split at %d: scanner refused=%v, want %v", split, got, want)
		}
	})
}
