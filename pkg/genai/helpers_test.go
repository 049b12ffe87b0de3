package genai

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixture is a span as written in testdata/*.json. Attribute values map to
// AnyValues: strings, bools, integers (no '.', 'e'), doubles, arrays and
// objects (structured kvlists). Content attributes that travel as JSON
// strings on the wire are written as JSON strings.
type fixture struct {
	Name       string          `json:"name"`
	Resource   json.RawMessage `json:"resource"`
	Attributes json.RawMessage `json:"attributes"`
	Events     []struct {
		Name       string          `json:"name"`
		Attributes json.RawMessage `json:"attributes"`
	} `json:"events"`
	LogEvents []struct {
		EventName  string          `json:"event_name"`
		Attributes json.RawMessage `json:"attributes"`
		Body       json.RawMessage `json:"body"`
	} `json:"log_events"`
}

type loaded struct {
	span      ptrace.Span
	resource  pcommon.Resource
	logEvents []Event
}

func loadFixture(t testing.TB, name string) loaded {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".json"))
	require.NoError(t, err)
	var f fixture
	require.NoError(t, json.Unmarshal(b, &f))

	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	putJSONMap(t, rs.Resource().Attributes(), f.Resource)
	span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetName(f.Name)
	span.SetSpanID(pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8})
	putJSONMap(t, span.Attributes(), f.Attributes)
	for _, e := range f.Events {
		se := span.Events().AppendEmpty()
		se.SetName(e.Name)
		putJSONMap(t, se.Attributes(), e.Attributes)
	}
	out := loaded{span: span, resource: rs.Resource()}
	if len(f.LogEvents) > 0 {
		ld := plog.NewLogs()
		records := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		for _, e := range f.LogEvents {
			lr := records.AppendEmpty()
			lr.SetEventName(e.EventName)
			lr.SetSpanID(span.SpanID())
			putJSONMap(t, lr.Attributes(), e.Attributes)
			if len(e.Body) > 0 {
				putJSONValue(t, lr.Body(), e.Body)
			}
		}
		out.logEvents = EventsBySpan(ld)[span.SpanID()]
	}
	return out
}

func (l loaded) parse(opts ...Option) (*Call, Stats) {
	if l.logEvents != nil {
		opts = append(opts, WithLogEvents(l.logEvents))
	}
	return Parse(l.span, l.resource, opts...)
}

func putJSONMap(t testing.TB, m pcommon.Map, raw json.RawMessage) {
	t.Helper()
	if len(raw) == 0 {
		return
	}
	v := pcommon.NewValueEmpty()
	putJSONValue(t, v, raw)
	require.Equal(t, pcommon.ValueTypeMap, v.Type(), "attributes must be an object")
	v.Map().CopyTo(m)
}

// putJSONValue decodes raw (keeping the object key order, which pdata maps
// keep too) into v.
func putJSONValue(t testing.TB, v pcommon.Value, raw json.RawMessage) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	require.NoError(t, decodeInto(dec, v))
}

func decodeInto(dec *json.Decoder, v pcommon.Value) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch x := tok.(type) {
	case json.Delim:
		switch x {
		case '{':
			m := v.SetEmptyMap()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				if err := decodeInto(dec, m.PutEmpty(kt.(string))); err != nil {
					return err
				}
			}
		case '[':
			s := v.SetEmptySlice()
			for dec.More() {
				if err := decodeInto(dec, s.AppendEmpty()); err != nil {
					return err
				}
			}
		}
		_, err := dec.Token() // closing delimiter
		return err
	case string:
		v.SetStr(x)
	case bool:
		v.SetBool(x)
	case json.Number:
		if strings.ContainsAny(x.String(), ".eE") {
			f, err := x.Float64()
			if err != nil {
				return err
			}
			v.SetDouble(f)
		} else {
			i, err := x.Int64()
			if err != nil {
				return err
			}
			v.SetInt(i)
		}
	case nil:
	}
	return nil
}

// newSpan builds a span from plain Go attributes (pcommon FromRaw rules:
// int → Int, float64 → Double, []any → Slice, map[string]any → Map).
func newSpan(t testing.TB, name string, attrs map[string]any) ptrace.Span {
	t.Helper()
	span := ptrace.NewSpan()
	span.SetName(name)
	require.NoError(t, span.Attributes().FromRaw(attrs))
	return span
}

func parseAttrs(t testing.TB, name string, attrs map[string]any, opts ...Option) (*Call, Stats) {
	t.Helper()
	return Parse(newSpan(t, name, attrs), pcommon.NewResource(), opts...)
}

// assertGolden compares the JSON of got with testdata/<name>.golden.json.
func assertGolden(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	require.NoError(t, err)
	b = append(b, '\n')
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		require.NoError(t, os.WriteFile(path, b, 0o600))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create %s", path)
	require.JSONEq(t, string(want), string(b))
}

func text(s string) Content { return TextContent(s) }

// toJSON renders v for compact assertions.
func toJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func newResource() pcommon.Resource { return pcommon.NewResource() }

func jsonNum(s string) any { return json.Number(s) }

func itoa(i int) string { return strconv.Itoa(i) }

func nanValue() float64 { return math.NaN() }
