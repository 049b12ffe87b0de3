// Package otlpspan turns OTLP traces (pdata) into Agent Lightning spans ready
// for store.Store.IngestSpans. It reproduces what Agent Lightning v0.3's
// spans_from_proto does on POST /v1/traces, and adds a Resolver that decides
// which rollout and attempt each span belongs to when the span does not say.
//
// # Conversion
//
// Each span becomes a model.Span with: trace and span ids as lower-case hex
// left-padded to 32 and 16 characters (all zeros when empty); parent_id as hex
// or null for a root; the status code name (UNSET, OK, ERROR) and the status
// message, or null when empty; the converted attributes, agentlightning.* keys
// included; events {name, attributes, timestamp}; links {context, attributes,
// or null when the link has none}; start and end times in seconds; a context
// {trace_id, span_id, is_remote false, trace_state {}}; parent null; and the
// resource {attributes, schema_url of the ResourceSpans}. Span kind, scope,
// trace state, flags and dropped counts are discarded, as Agent Lightning does.
//
// Timestamps follow Agent Lightning's convert_timestamp: 0 is null, a value
// above 1e12 is nanoseconds and is divided by 1e9, anything smaller is taken
// as seconds already.
//
// Attribute values: strings and bools are kept; ints and doubles become
// json.Number, the form a span decoded from JSON carries, with doubles written
// the way Python writes a float (1.0 stays "1.0", 1e16 is "1e+16") so they
// stay floats for Python clients; NaN and ±Inf, which JSON cannot carry,
// become the strings "NaN", "Infinity" and "-Infinity". Arrays become []any,
// kvlists map[string]any (Agent Lightning would reject them; we keep them),
// bytes a lower-case hex string and an empty value nil.
//
// The spans of one ResourceSpans share a single Resource.Attributes map; treat
// converted spans as read-only or clone them (model.Span.Clone) first.
//
// # Rollout identity
//
// The rollout id, attempt id and sequence id come from the span attributes
// agentlightning.rollout_id, agentlightning.attempt_id and
// agentlightning.span_sequence_id, else from the resource attributes of the
// same names; a span-level value wins even when it is unusable. Ids are
// taken in their Python str() form (an int 7 is "7", a bool is "True"); an
// empty string is a valid id, an empty (unset) value is missing. The sequence
// id is parsed from an int or a decimal string; anything else (a double, a
// bool, "not-int") and any negative value is treated as missing and counted in
// Stats, and the store allocates one in arrival order. Unlike Agent Lightning,
// an explicit 0 also asks the store to allocate, since 0 is never issued.
//
// A span that names both a rollout and an attempt is labeled. Its item carries
// CreateMetadata {"source":"otlp"} under UnknownCreate, so the store creates a
// rollout or attempt it does not know, and nil under UnknownReject, so the
// store rejects it as Agent Lightning would.
//
// A span that names a rollout but no attempt is filed under that rollout with
// the attempt id "at-<key>", where key is the automatic rollout key described
// below (the trace id by default): one attempt per trace, which is what an
// agent run labeled only with a rollout id usually means. It is counted as
// AttemptDefaulted. Under UnknownReject such a span is stored only if that
// attempt already exists. Agent Lightning drops these spans.
//
// A span with no rollout id (whether or not it names an attempt) is unlabeled.
// Under UnlabeledDrop it is dropped, as Agent Lightning does. Under
// UnlabeledAuto (the default) it goes to the automatic rollout "ro-<key>" and
// attempt "at-<key>", with CreateMetadata {"source":"auto"} whatever the
// Unknown policy, so pointing any OTLP agent at the collector just works. The
// key is the trace id (32 lower-case hex) when AutoKey is "trace_id", or else
// the string value of the attribute named by AutoKey (for example
// gen_ai.conversation.id or session.id) looked up on the span and then on the
// resource; when the attribute is absent or empty the trace id is used
// instead. The lookup is per span, so the attribute should be on the resource
// or on every span of a conversation, or the spans lacking it land in their
// trace's rollout.
package otlpspan
