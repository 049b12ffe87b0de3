package model

import "encoding/json"

// Approximate heap costs on a 64-bit Go runtime: an interface or string
// header is 16 bytes, a slice header 24, and every map entry pays for its
// key, its value and the bucket's bookkeeping.
const (
	headerBytes   = 16
	sliceBytes    = 24
	mapBytes      = 48
	mapEntryBytes = 8
	spanBytes     = 400 // the Span struct with its contexts and status
)

// HeapBytes estimates the memory a decoded span holds, for buffers that must
// stay under a byte budget. It counts what dominates real spans (attribute
// strings, numbers stored as json.Number, nested lists and maps) and is
// deliberately cheap: no reflection, no encoding.
func (s *Span) HeapBytes() int {
	n := spanBytes + len(s.RolloutID) + len(s.AttemptID) + len(s.TraceID) + len(s.SpanID) + len(s.Name)
	if s.ParentID != nil {
		n += len(*s.ParentID)
	}
	n += s.Attributes.HeapBytes() + s.Resource.Attributes.HeapBytes()
	for i := range s.Events {
		n += headerBytes + len(s.Events[i].Name) + s.Events[i].Attributes.HeapBytes()
	}
	for i := range s.Links {
		n += headerBytes + len(s.Links[i].Context.TraceID) + len(s.Links[i].Context.SpanID) +
			s.Links[i].Attributes.HeapBytes()
	}
	return n
}

// HeapBytes estimates the memory of an attribute map, as Span.HeapBytes.
func (a Attributes) HeapBytes() int {
	n := mapBytes
	for k, v := range a {
		n += mapEntryBytes + headerBytes + len(k) + headerBytes + ValueHeapBytes(v)
	}
	return n
}

// ValueHeapBytes estimates what an attribute value (string, json.Number,
// number, bool, nil, []any or map[string]any) boxed in an interface adds
// beyond the interface itself.
func ValueHeapBytes(v any) int {
	switch v := v.(type) {
	case string:
		return headerBytes + len(v)
	case json.Number:
		return headerBytes + len(v)
	case float64, int64, int:
		return 8
	case []any:
		n := sliceBytes
		for _, e := range v {
			n += headerBytes + ValueHeapBytes(e)
		}
		return n
	case map[string]any:
		return Attributes(v).HeapBytes()
	default: // bool and nil are not allocated
		return 0
	}
}
