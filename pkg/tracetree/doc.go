// Package tracetree rebuilds the span tree of one rollout attempt and finds
// the LLM calls and rewards in it, following Agent Lightning's
// TracerTraceToTriplet adapter (spec §5.1): lost parents become virtual
// nodes, several roots get a virtual root, LLM spans that hang under the root
// are moved under the agent that encloses them in time, and rewards are
// matched to calls by policy.
//
// Where Python leaves behaviour undefined, this package decides:
//   - lost parents become roots in sorted id order (Python: set order);
//   - spans caught in parent-id cycles, which Python would silently drop,
//     become extra roots (the first in input order breaks each cycle) and
//     are counted in Stats.CyclesBroken;
//   - a node with a null start or end time never encloses and is never
//     moved by the hierarchy repair; when sorting by time, a null start
//     falls back to the end time, and a node with neither sorts last.
package tracetree
