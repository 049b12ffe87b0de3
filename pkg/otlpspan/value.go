package otlpspan

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// ConvertAttributes converts an OTLP attribute map the way Agent Lightning's
// _kv_list_to_dict does. The result is never nil.
func ConvertAttributes(m pcommon.Map) model.Attributes {
	out := make(model.Attributes, m.Len())
	for k, v := range m.All() {
		out[k] = ConvertValue(v)
	}
	return out
}

// ConvertValue converts one AnyValue to the plain value stored in a span's
// attributes (see the package documentation for the mapping).
func ConvertValue(v pcommon.Value) any {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeBool:
		return v.Bool()
	case pcommon.ValueTypeInt:
		return IntValue(v.Int())
	case pcommon.ValueTypeDouble:
		return FloatValue(v.Double())
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		out := make([]any, s.Len())
		for i, e := range s.All() {
			out[i] = ConvertValue(e)
		}
		return out
	case pcommon.ValueTypeMap:
		out := make(map[string]any, v.Map().Len())
		for k, e := range v.Map().All() {
			out[k] = ConvertValue(e)
		}
		return out
	case pcommon.ValueTypeBytes:
		return hex.EncodeToString(v.Bytes().AsRaw())
	default:
		return nil
	}
}

// internedInts holds the json.Number of each small non-negative integer
// once it has been seen. Token ids are such integers, hundreds per LLM span
// and drawn from one vocabulary (up to ~250k ids): sharing their values
// spares two allocations per id (the digits and the boxed string) and
// keeps span copies several times smaller. Entries are filled on first use,
// so only the ids that occur take memory.
var internedInts [1 << 18]atomic.Pointer[any]

// IntValue returns n as the json.Number attribute value ConvertValue gives
// an OTLP int, shared for small non-negative n.
func IntValue(n int64) any {
	if n < 0 || n >= int64(len(internedInts)) {
		return json.Number(strconv.FormatInt(n, 10))
	}
	if p := internedInts[n].Load(); p != nil {
		return *p
	}
	v := any(json.Number(strconv.FormatInt(n, 10)))
	internedInts[n].Store(&v) // a racing store holds an equal value
	return v
}

// FloatValue returns f as a json.Number written as Python's repr writes a
// float, so that it keeps a decimal point or an exponent and decodes as a
// float on the Python side. NaN and infinities, which JSON cannot carry, are
// returned as the strings Python's json module would write for them.
func FloatValue(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return json.Number(pyFloatRepr(f))
}

// pyFloatRepr formats a finite float like Python's repr: the shortest digits
// that round-trip, positional notation when the decimal exponent is in
// [-4, 16), scientific notation with a two-digit exponent otherwise.
func pyFloatRepr(f float64) string {
	sci := strconv.FormatFloat(f, 'e', -1, 64) // e.g. "-1.5e-05", "1e+16"
	_, expStr, _ := strings.Cut(sci, "e")
	exp, err := strconv.Atoi(expStr)
	if err != nil { // cannot happen for a finite float; keep a valid number
		return sci
	}
	if exp < -4 || exp >= 16 {
		return sci
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// pyStr renders a converted attribute value as Python's str() would for the
// scalar types; lists and maps, which no producer uses as an id, get their
// JSON form. ok is false for a missing (nil) value.
func pyStr(v any) (s string, ok bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case bool:
		if x {
			return "True", true
		}
		return "False", true
	case json.Number:
		return string(x), true
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return "", false
		}
		return string(b), true
	}
}

// TraceIDHex formats trace id bytes as Agent Lightning does: lower-case hex
// left-padded with zeros to 32 characters; empty bytes give 32 zeros.
func TraceIDHex(b []byte) string { return padHex(b, 32) }

// SpanIDHex formats span id bytes as lower-case hex left-padded to 16
// characters; empty bytes give 16 zeros.
func SpanIDHex(b []byte) string { return padHex(b, 16) }

func padHex(b []byte, width int) string {
	h := hex.EncodeToString(b)
	if len(h) >= width {
		return h
	}
	return strings.Repeat("0", width-len(h)) + h
}

// Timestamp converts an OTLP timestamp to float seconds the way Agent
// Lightning's convert_timestamp does: 0 is nil, values above 1e12 are
// nanoseconds, smaller values are already seconds.
func Timestamp(ts pcommon.Timestamp) *float64 {
	if ts == 0 {
		return nil
	}
	f := float64(ts)
	if f > 1e12 {
		f /= 1e9
	}
	return &f
}
