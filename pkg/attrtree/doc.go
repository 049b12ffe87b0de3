// Package attrtree converts between nested values and the flat, dot-keyed
// attribute maps that OpenTelemetry spans carry, with the exact semantics of
// Agent Lightning v0.3's flatten_attributes, unflatten_attributes and
// filter_and_unflatten_attributes (agentlightning/utils/otel.py), plus the
// index grouping of its TraceToMessages adapter (group_genai_dict).
//
// Values are plain Go values: nil, bool, string, the Go integer and float
// types, json.Number, []any and map[string]any (typed slices such as
// []string or []int64 are accepted by Flatten too).
//
// Flatten walks maps with "."-joined keys and lists with index keys. A root
// list gives the keys "0".."n-1"; a root primitive gives the key "". Empty
// lists and empty maps produce no key at all. With ExpandLeafLists false (the
// emitter default in Agent Lightning) a non-empty list whose items are all
// primitives of one kind (all strings, all bools, all integers or all floats)
// stays a single list value; a mixed list is expanded by index, as Python
// does after logging a warning.
//
// Unflatten splits keys on "." and builds nested maps; the key order decides
// conflicts (a later nested path replaces an earlier primitive at the same
// key, and a later primitive replaces an earlier subtree), so callers pass
// keys in wire order. Then, bottom-up, every map whose keys are all canonical
// decimal indices forming exactly 0..n-1 becomes a list; maps with gaps or
// with a non-index key stay maps.
//
// Attribute values are leaves: Unflatten never descends into nor modifies a
// map or list value it is given.
//
// Differences from Python, all on inputs where Python fails or is
// unspecified: a Go map has no insertion order, so FlattenMap-style inputs are
// walked in sorted key order and UnflattenMap sorts its keys (a key then
// comes before its own sub-keys, so nested paths win); index keys must be
// ASCII and canonical ("0", "7", not "07" nor "٣"), where Python's str.isdigit
// accepts other digits and then crashes on a missing key.
package attrtree
