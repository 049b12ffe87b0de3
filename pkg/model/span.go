package model

import "encoding/json"

// Span status codes as Agent Lightning writes them.
const (
	StatusUnset = "UNSET"
	StatusOK    = "OK"
	StatusError = "ERROR"
)

// Attributes maps an attribute key to a string, bool, number (json.Number
// after decoding), or a homogeneous list of those.
type Attributes map[string]any

// SpanContext identifies a span; unknown keys round-trip.
type SpanContext struct {
	TraceID    string            `json:"trace_id"`
	SpanID     string            `json:"span_id"`
	IsRemote   bool              `json:"is_remote"`
	TraceState map[string]string `json:"trace_state"`
	Extra      Extras            `json:"-"`
}

// TraceStatus is a span's status; unknown keys round-trip.
type TraceStatus struct {
	StatusCode  string  `json:"status_code"`
	Description *string `json:"description"`
	Extra       Extras  `json:"-"`
}

// Event is a span event; unknown keys round-trip.
type Event struct {
	Name       string     `json:"name"`
	Attributes Attributes `json:"attributes"`
	Timestamp  *float64   `json:"timestamp"`
	Extra      Extras     `json:"-"`
}

// Link points at another span; unknown keys round-trip.
type Link struct {
	Context    SpanContext `json:"context"`
	Attributes Attributes  `json:"attributes"`
	Extra      Extras      `json:"-"`
}

// OtelResource is the OpenTelemetry resource of a span (not a tunable resource).
type OtelResource struct {
	Attributes Attributes `json:"attributes"`
	SchemaURL  string     `json:"schema_url"`
}

// Span is one telemetry record attached to a (rollout, attempt).
type Span struct {
	RolloutID  string       `json:"rollout_id"`
	AttemptID  string       `json:"attempt_id"`
	SequenceID int          `json:"sequence_id"`
	TraceID    string       `json:"trace_id"`
	SpanID     string       `json:"span_id"`
	ParentID   *string      `json:"parent_id"`
	Name       string       `json:"name"`
	Status     TraceStatus  `json:"status"`
	Attributes Attributes   `json:"attributes"`
	Events     []Event      `json:"events"`
	Links      []Link       `json:"links"`
	StartTime  *float64     `json:"start_time"`
	EndTime    *float64     `json:"end_time"`
	Context    *SpanContext `json:"context"`
	Parent     *SpanContext `json:"parent"`
	Resource   OtelResource `json:"resource"`
	Extra      Extras       `json:"-"`
}

type (
	plainSpanContext SpanContext
	plainTraceStatus TraceStatus
	plainEvent       Event
	plainLink        Link
	plainSpan        Span
)

func (c SpanContext) MarshalJSON() ([]byte, error) {
	if c.TraceState == nil {
		c.TraceState = map[string]string{}
	}
	return encodeWithExtras(plainSpanContext(c), c.Extra)
}

func (c *SpanContext) UnmarshalJSON(b []byte) error {
	var p plainSpanContext
	extra, err := decodeWithExtras(b, &p)
	p.Extra = extra
	*c = SpanContext(p)
	return err
}

func (s TraceStatus) MarshalJSON() ([]byte, error) {
	if s.StatusCode == "" {
		s.StatusCode = StatusUnset
	}
	return encodeWithExtras(plainTraceStatus(s), s.Extra)
}

func (s *TraceStatus) UnmarshalJSON(b []byte) error {
	p := plainTraceStatus{StatusCode: StatusUnset}
	extra, err := decodeWithExtras(b, &p)
	p.Extra = extra
	*s = TraceStatus(p)
	return err
}

func (e Event) MarshalJSON() ([]byte, error) {
	if e.Attributes == nil {
		e.Attributes = Attributes{}
	}
	return encodeWithExtras(plainEvent(e), e.Extra)
}

func (e *Event) UnmarshalJSON(b []byte) error {
	var p plainEvent
	extra, err := decodeWithExtras(b, &p)
	p.Extra = extra
	*e = Event(p)
	return err
}

func (l Link) MarshalJSON() ([]byte, error) {
	return encodeWithExtras(plainLink(l), l.Extra)
}

func (l *Link) UnmarshalJSON(b []byte) error {
	var p plainLink
	extra, err := decodeWithExtras(b, &p)
	p.Extra = extra
	*l = Link(p)
	return err
}

func (s Span) MarshalJSON() ([]byte, error) {
	if s.Attributes == nil {
		s.Attributes = Attributes{}
	}
	if s.Events == nil {
		s.Events = []Event{}
	}
	if s.Links == nil {
		s.Links = []Link{}
	}
	if s.Resource.Attributes == nil {
		s.Resource.Attributes = Attributes{}
	}
	return encodeWithExtras(plainSpan(s), s.Extra)
}

func (s *Span) UnmarshalJSON(b []byte) error {
	p := plainSpan{Status: TraceStatus{StatusCode: StatusUnset}}
	extra, err := decodeWithExtras(b, &p)
	p.Extra = extra
	*s = Span(p)
	return err
}

// Clone returns a deep copy of s through its JSON form, so callers can mutate
// the result without touching stored data.
func (s Span) Clone() Span {
	b, err := json.Marshal(s)
	if err != nil {
		return s
	}
	var out Span
	if json.Unmarshal(b, &out) != nil {
		return s
	}
	return out
}
