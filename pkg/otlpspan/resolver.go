package otlpspan

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// Attribute keys that carry a span's rollout identity, on the span or on its
// resource (Agent Lightning's LightningResourceAttributes).
const (
	AttrRolloutID      = "agentlightning.rollout_id"
	AttrAttemptID      = "agentlightning.attempt_id"
	AttrSpanSequenceID = "agentlightning.span_sequence_id"
)

// Prefixes of the ids given to automatic rollouts and defaulted attempts.
const (
	AutoRolloutPrefix = "ro-"
	AutoAttemptPrefix = "at-"
)

// UnlabeledPolicy says what happens to spans that name no rollout.
type UnlabeledPolicy string

const (
	// UnlabeledAuto files them under an automatic rollout (the default).
	UnlabeledAuto UnlabeledPolicy = "auto"
	// UnlabeledDrop drops them, as Agent Lightning does.
	UnlabeledDrop UnlabeledPolicy = "drop"
)

// UnknownPolicy says what the store does with labeled spans whose rollout or
// attempt it does not know.
type UnknownPolicy string

const (
	// UnknownCreate lets the store create them (the default).
	UnknownCreate UnknownPolicy = "create"
	// UnknownReject lets the store reject them, as Agent Lightning does.
	UnknownReject UnknownPolicy = "reject"
)

// AutoKeyTraceID keys automatic rollouts by trace id.
const AutoKeyTraceID = "trace_id"

// CreateMetadata values attached to ingest items: rollouts created for
// unlabeled spans are marked "auto", those created for labeled spans "otlp".
// The slices are shared by every item; the store must not modify them.
var (
	AutoMetadata = json.RawMessage(`{"source":"auto"}`)
	OTLPMetadata = json.RawMessage(`{"source":"otlp"}`)
)

// Config selects the Resolver's policies. The zero value is the default:
// auto rollouts keyed by trace id, unknown rollouts created.
type Config struct {
	// Unlabeled is UnlabeledAuto (default) or UnlabeledDrop.
	Unlabeled UnlabeledPolicy
	// AutoKey is AutoKeyTraceID (default) or the name of a span or resource
	// attribute (gen_ai.conversation.id, session.id...) whose value keys the
	// automatic rollout; spans without it fall back to their trace id.
	AutoKey string
	// Unknown is UnknownCreate (default) or UnknownReject.
	Unknown UnknownPolicy
}

// WithDefaults fills the empty fields of c with the defaults.
func (c Config) WithDefaults() Config {
	if c.Unlabeled == "" {
		c.Unlabeled = UnlabeledAuto
	}
	if c.AutoKey == "" {
		c.AutoKey = AutoKeyTraceID
	}
	if c.Unknown == "" {
		c.Unknown = UnknownCreate
	}
	return c
}

// Validate reports unknown policies, naming the exporter's config fields.
// Empty fields are valid (defaults).
func (c Config) Validate() error {
	var errs []error
	switch c.Unlabeled {
	case "", UnlabeledAuto, UnlabeledDrop:
	default:
		errs = append(errs, fmt.Errorf("unlabeled: %q is not one of %q, %q", c.Unlabeled, UnlabeledAuto, UnlabeledDrop))
	}
	if c.AutoKey != strings.TrimSpace(c.AutoKey) {
		errs = append(errs, fmt.Errorf("auto_rollout_key: %q has surrounding spaces", c.AutoKey))
	}
	switch c.Unknown {
	case "", UnknownCreate, UnknownReject:
	default:
		errs = append(errs, fmt.Errorf("unknown_rollouts: %q is not one of %q, %q", c.Unknown, UnknownCreate, UnknownReject))
	}
	return errors.Join(errs...)
}

// Stats counts what one Convert call did with the spans it saw.
type Stats struct {
	// Spans is the number of spans in the input.
	Spans int
	// Labeled spans named their rollout and attempt.
	Labeled int
	// AttemptDefaulted spans named a rollout but no attempt and were given
	// the attempt "at-<key>".
	AttemptDefaulted int
	// Auto spans named no rollout and were filed under an automatic rollout.
	Auto int
	// UnlabeledDropped spans named no rollout and were dropped (UnlabeledDrop).
	UnlabeledDropped int
	// InvalidSequenceID spans carried a sequence id that is not an integer;
	// NegativeSequenceID spans a negative one. Both are still stored, with a
	// sequence id allocated by the store.
	InvalidSequenceID  int
	NegativeSequenceID int
}

// Add accumulates o into s.
func (s *Stats) Add(o Stats) {
	s.Spans += o.Spans
	s.Labeled += o.Labeled
	s.AttemptDefaulted += o.AttemptDefaulted
	s.Auto += o.Auto
	s.UnlabeledDropped += o.UnlabeledDropped
	s.InvalidSequenceID += o.InvalidSequenceID
	s.NegativeSequenceID += o.NegativeSequenceID
}

// Resolver converts OTLP traces into ingest items, deciding each span's
// rollout and attempt. It holds no state and is safe for concurrent use.
type Resolver struct {
	cfg Config
}

// NewResolver validates cfg and fills in its defaults.
func NewResolver(cfg Config) (*Resolver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Resolver{cfg: cfg.WithDefaults()}, nil
}

// Config returns the resolver's configuration with defaults applied.
func (r *Resolver) Config() Config { return r.cfg }

// Convert converts every span of td, in order of appearance, into an ingest
// item. Dropped spans are only counted. Items keep the arrival order, which is
// the order in which the store allocates missing sequence ids.
func (r *Resolver) Convert(td ptrace.Traces) ([]store.IngestItem, Stats) {
	var stats Stats
	items := make([]store.IngestItem, 0, td.SpanCount())
	for _, rs := range td.ResourceSpans().All() {
		resAttrs := rs.Resource().Attributes()
		var res *model.OtelResource // converted lazily: all may be dropped
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				stats.Spans++
				id, ok := r.identify(span, resAttrs, &stats)
				if !ok {
					continue
				}
				if res == nil {
					converted := ConvertResource(rs)
					res = &converted
				}
				s := ConvertSpan(span, *res)
				s.RolloutID, s.AttemptID, s.SequenceID = id.rolloutID, id.attemptID, id.sequenceID
				items = append(items, store.IngestItem{Span: s, CreateMetadata: id.createMetadata})
			}
		}
	}
	return items, stats
}

// identity is where one span goes.
type identity struct {
	rolloutID, attemptID string
	sequenceID           int
	createMetadata       json.RawMessage
}

// identify applies the identity rules of the package documentation; ok is
// false when the span is dropped.
func (r *Resolver) identify(span ptrace.Span, resAttrs pcommon.Map, stats *Stats) (identity, bool) {
	spanAttrs := span.Attributes()
	rolloutID, hasRollout := lookupString(spanAttrs, resAttrs, AttrRolloutID)
	attemptID, hasAttempt := lookupString(spanAttrs, resAttrs, AttrAttemptID)

	var id identity
	switch {
	case hasRollout && hasAttempt:
		stats.Labeled++
		id = identity{rolloutID: rolloutID, attemptID: attemptID, createMetadata: r.labeledMetadata()}
	case hasRollout:
		stats.AttemptDefaulted++
		key := r.autoKey(span, resAttrs)
		id = identity{rolloutID: rolloutID, attemptID: AutoAttemptPrefix + key, createMetadata: r.labeledMetadata()}
	case r.cfg.Unlabeled == UnlabeledDrop:
		stats.UnlabeledDropped++
		return identity{}, false
	default:
		stats.Auto++
		key := r.autoKey(span, resAttrs)
		id = identity{rolloutID: AutoRolloutPrefix + key, attemptID: AutoAttemptPrefix + key, createMetadata: AutoMetadata}
	}

	seq, issue := parseSequenceID(lookup(spanAttrs, resAttrs, AttrSpanSequenceID))
	switch issue {
	case seqInvalid:
		stats.InvalidSequenceID++
	case seqNegative:
		stats.NegativeSequenceID++
	}
	id.sequenceID = seq
	return id, true
}

func (r *Resolver) labeledMetadata() json.RawMessage {
	if r.cfg.Unknown == UnknownReject {
		return nil
	}
	return OTLPMetadata
}

// autoKey returns the key of the span's automatic rollout: the configured
// attribute's value, or the trace id when it is absent or empty.
func (r *Resolver) autoKey(span ptrace.Span, resAttrs pcommon.Map) string {
	if r.cfg.AutoKey != AutoKeyTraceID {
		if v, ok := lookupString(span.Attributes(), resAttrs, r.cfg.AutoKey); ok && v != "" {
			return v
		}
	}
	traceID := span.TraceID()
	return TraceIDHex(traceID[:])
}

// lookup returns the converted value of key on the span, else on the
// resource; nil when neither has a non-empty value (Agent Lightning falls back
// to the resource when the span's value converts to None).
func lookup(spanAttrs, resAttrs pcommon.Map, key string) any {
	if v, ok := spanAttrs.Get(key); ok {
		if c := ConvertValue(v); c != nil {
			return c
		}
	}
	if v, ok := resAttrs.Get(key); ok {
		return ConvertValue(v)
	}
	return nil
}

func lookupString(spanAttrs, resAttrs pcommon.Map, key string) (string, bool) {
	return pyStr(lookup(spanAttrs, resAttrs, key))
}

type seqIssue int

const (
	seqOK seqIssue = iota
	seqInvalid
	seqNegative
)

// parseSequenceID parses a sequence id as Agent Lightning's int(str(v)):
// from an int or a decimal string. It returns 0 (allocate) for a missing,
// invalid or negative value, saying which.
func parseSequenceID(v any) (int, seqIssue) {
	s, ok := pyStr(v)
	if !ok {
		return 0, seqOK
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	switch {
	case err != nil:
		return 0, seqInvalid
	case n < 0:
		return 0, seqNegative
	default:
		return int(n), seqOK
	}
}

// Identity returns the rollout and attempt ids a span names (span attribute
// first, then resource attribute); ok is false unless both are present, the
// condition under which Agent Lightning's server keeps a span.
func Identity(span ptrace.Span, resAttrs pcommon.Map) (rolloutID, attemptID string, ok bool) {
	rolloutID, hasRollout := lookupString(span.Attributes(), resAttrs, AttrRolloutID)
	attemptID, hasAttempt := lookupString(span.Attributes(), resAttrs, AttrAttemptID)
	return rolloutID, attemptID, hasRollout && hasAttempt
}

// SequenceID returns the span's agentlightning.span_sequence_id (span
// attribute first, then resource attribute), or 0 when it is missing or not
// a non-negative integer, which means "allocate one".
func SequenceID(span ptrace.Span, resAttrs pcommon.Map) int {
	n, _ := parseSequenceID(lookup(span.Attributes(), resAttrs, AttrSpanSequenceID))
	return n
}
