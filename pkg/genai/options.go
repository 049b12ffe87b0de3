package genai

import "regexp"

// Limits bound the work Parse does on one span. The zero value of a field
// means its default.
type Limits struct {
	// MaxValueBytes is the longest string Parse decodes as JSON or as a
	// Python literal (default 16 MiB). Longer values are skipped and counted
	// as Oversized; plain text content of any length is kept.
	MaxValueBytes int
	// MaxDepth is the deepest nesting of decoded values and structured
	// AnyValues (default 128). Deeper values are skipped as TooDeep.
	MaxDepth int
	// MaxIndex is the largest index read from flattened keys such as
	// gen_ai.prompt.N (default 10000, Langfuse's cap). Larger ones are
	// ignored as IndexOutOfRange.
	MaxIndex int
	// MaxWarnings is the number of detailed warnings kept in Stats
	// (default 16); the counters are always complete.
	MaxWarnings int
}

// Default limits.
const (
	DefaultMaxValueBytes = 16 << 20
	DefaultMaxDepth      = 128
	DefaultMaxIndex      = 10000
	DefaultMaxWarnings   = 16
)

func (l Limits) withDefaults() Limits {
	if l.MaxValueBytes <= 0 {
		l.MaxValueBytes = DefaultMaxValueBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxIndex <= 0 {
		l.MaxIndex = DefaultMaxIndex
	}
	if l.MaxWarnings <= 0 {
		l.MaxWarnings = DefaultMaxWarnings
	}
	return l
}

// Option configures Parse and IsLLMCall.
type Option func(*config)

type config struct {
	limits    Limits
	logEvents []Event
	nameMatch *regexp.Regexp
	nameOnly  bool
}

func newConfig(opts []Option) *config {
	c := &config{}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	c.limits = c.limits.withDefaults()
	return c
}

// WithLimits sets the parsing limits.
func WithLimits(l Limits) Option {
	return func(c *config) { c.limits = l }
}

// WithLogEvents passes the events that arrived on the logs signal for this
// span (OTel ≤ 1.36 per-message events, the 1.37
// gen_ai.client.inference.operation.details event), e.g. from EventsBySpan.
func WithLogEvents(events []Event) Option {
	return func(c *config) { c.logEvents = events }
}

// WithNameMatch replaces the span-name fallback of the classification (the
// last rule) with re, searched anywhere in the span name. The attribute
// rules still apply first.
func WithNameMatch(re *regexp.Regexp) Option {
	return func(c *config) { c.nameMatch, c.nameOnly = re, false }
}

// WithNameMatchOnly makes re, searched in the span name, the only
// classification rule: Agent Lightning's llm_call_match (default
// `openai\.chat\.completion`).
func WithNameMatchOnly(re *regexp.Regexp) Option {
	return func(c *config) { c.nameMatch, c.nameOnly = re, true }
}
