package depthlimit

import "io"

// Message names the top-level OTLP request a protobuf scanner reads.
type Message int

// OTLP export requests whose values the scanner follows.
const (
	// TracesRequest is opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest.
	TracesRequest Message = iota + 1
	// LogsRequest is opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest.
	LogsRequest
)

// kind is a protobuf message type of the OTLP schema that can lead to an
// AnyValue; every other field is skipped without being looked at.
type kind uint8

const (
	kNone kind = iota
	kTracesReq
	kLogsReq
	kResourceSpans
	kResourceLogs
	kResource
	kScopeSpans
	kScopeLogs
	kScope
	kSpan
	kEvent
	kLink
	kLogRecord
	kKeyValue
	kAnyValue
	kArrayValue
	kKeyValueList
	kCount
)

// children maps (message kind, field number) to the kind of the embedded
// message, for the fields on a path to an AnyValue (field numbers from
// opentelemetry-proto v1); every other field is skipped. A table, not a map:
// it is consulted for every embedded message of the request.
var children = func() (t [kCount][16]kind) {
	for parent, fields := range map[kind]map[uint64]kind{
		kTracesReq:     {1: kResourceSpans},
		kLogsReq:       {1: kResourceLogs},
		kResourceSpans: {1: kResource, 2: kScopeSpans},
		kResourceLogs:  {1: kResource, 2: kScopeLogs},
		kResource:      {1: kKeyValue},
		kScopeSpans:    {1: kScope, 2: kSpan},
		kScopeLogs:     {1: kScope, 2: kLogRecord},
		kScope:         {3: kKeyValue},
		kSpan:          {9: kKeyValue, 11: kEvent, 13: kLink},
		kEvent:         {3: kKeyValue},
		kLink:          {4: kKeyValue},
		kLogRecord:     {5: kAnyValue, 6: kKeyValue},
		kKeyValue:      {2: kAnyValue},
		kAnyValue:      {5: kArrayValue, 6: kKeyValueList},
		kArrayValue:    {1: kAnyValue},
		kKeyValueList:  {1: kKeyValue},
	} {
		for field, child := range fields {
			t[parent][field] = child
		}
	}
	return t
}()

func childOf(parent kind, field uint64) kind {
	if field >= 16 {
		return kNone
	}
	return children[parent][field]
}

type frame struct {
	kind  kind
	end   int64 // offset just past this message
	depth int   // arrayValue / kvlistValue levels above and including it
}

type protoState uint8

const (
	stTag protoState = iota
	stLen
	stVarint
	stSkip
	stDone // gave up on malformed input: the decoder will report it
)

// OTLPScanner follows the AnyValue nesting of an OTLP protobuf request fed
// to it in pieces, without decoding it. Input that is not valid protobuf
// stops the scan without an error: the decoder that follows refuses it
// with its own message.
type OTLPScanner struct {
	limit int
	stack []frame
	off   int64
	state protoState
	// the varint being read, and its length so far
	v      uint64
	vbytes int
	field  uint64
	skip   int64 // bytes left to skip in stSkip
	err    error
}

// NewOTLPScanner returns a scanner of the request msg that refuses values
// nested deeper than limit.
func NewOTLPScanner(msg Message, limit int) *OTLPScanner {
	root := kTracesReq
	if msg == LogsRequest {
		root = kLogsReq
	}
	return &OTLPScanner{limit: limit, stack: []frame{{kind: root, end: -1}}}
}

// Write scans p; it returns an *Error once a value nests deeper than the
// limit (and from then on).
func (s *OTLPScanner) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	for i := 0; i < len(p) && s.state != stDone; {
		if s.state == stSkip {
			n := min(s.skip, int64(len(p)-i))
			s.skip -= n
			s.off += n
			i += int(n)
			if s.skip == 0 {
				s.state = stTag
				s.pop()
			}
			continue
		}
		c := p[i]
		i++
		s.off++
		if s.vbytes == 10 {
			s.state = stDone
			break
		}
		s.v |= uint64(c&0x7f) << (7 * s.vbytes)
		s.vbytes++
		if c&0x80 != 0 {
			continue
		}
		v := s.v
		s.v, s.vbytes = 0, 0
		if err := s.value(v); err != nil {
			s.err = err
			return 0, err
		}
	}
	return len(p), nil
}

// value handles a complete varint in the current state.
func (s *OTLPScanner) value(v uint64) error {
	switch s.state {
	case stTag:
		s.field = v >> 3
		switch v & 7 {
		case 0:
			s.state = stVarint
		case 1:
			s.skipN(8)
		case 2:
			s.state = stLen
		case 5:
			s.skipN(4)
		default: // groups: not in OTLP
			s.state = stDone
		}
	case stVarint:
		s.state = stTag
		s.pop()
	case stLen:
		if v > 1<<40 {
			s.state = stDone
			return nil
		}
		top := s.stack[len(s.stack)-1]
		child := childOf(top.kind, s.field)
		if child == kNone {
			s.skipN(int64(v))
			return nil
		}
		f := frame{kind: child, end: s.off + int64(v), depth: top.depth}
		if child == kArrayValue || child == kKeyValueList {
			f.depth++
			if f.depth > s.limit {
				return &Error{Limit: s.limit, What: "OTLP attribute value"}
			}
		}
		if top.end >= 0 && f.end > top.end {
			s.state = stDone
			return nil
		}
		s.stack = append(s.stack, f)
		s.state = stTag
		s.pop()
	}
	return nil
}

func (s *OTLPScanner) skipN(n int64) {
	s.skip = n
	s.state = stSkip
	if n == 0 {
		s.state = stTag
		s.pop()
	}
}

// pop leaves every message that ends at the current offset.
func (s *OTLPScanner) pop() {
	for len(s.stack) > 1 {
		top := s.stack[len(s.stack)-1]
		if s.off < top.end {
			return
		}
		if s.off > top.end {
			s.state = stDone // a field overran its message
			return
		}
		s.stack = s.stack[:len(s.stack)-1]
	}
}

// CheckOTLP returns an *Error when an attribute value (or log body) of the
// OTLP protobuf request b nests deeper than limit. It counts every nested
// value on the wire, so it also refuses a request whose deep value a later
// field of the same oneof replaces (protobuf keeps the last), which no SDK
// sends and which a decoder would drop: never fewer refusals than needed.
func CheckOTLP(b []byte, msg Message, limit int) error {
	_, err := NewOTLPScanner(msg, limit).Write(b)
	return err
}

// OTLPReader returns a reader of r that fails with an *Error as soon as the
// OTLP protobuf request read so far nests a value deeper than limit.
func OTLPReader(r io.Reader, msg Message, limit int) io.Reader {
	s := NewOTLPScanner(msg, limit)
	return &checkingReader{r: r, scan: func(p []byte) error { _, err := s.Write(p); return err }}
}
