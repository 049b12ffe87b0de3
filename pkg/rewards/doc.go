// Package rewards reads and writes the reward, link and tag attributes of
// Agent Lightning v0.3 (agentlightning/emitter/reward.py and
// agentlightning/utils/otel.py), and parses the other feedback encodings the
// reward processor turns into them (OpenTelemetry gen_ai.evaluation.result
// events and OpenInference annotations and evaluations).
//
// The canonical encoding is a list of dimensions flattened into the span
// attributes agentlightning.reward.<i>.name (string) and
// agentlightning.reward.<i>.value (double), i = 0..n-1. Index 0 is the
// primary reward; a scalar reward is one dimension named "primary".
// Read reproduces get_reward_value: the canonical list first, then an
// AgentOps payload {"type":"reward","value":x} under agentops.task.output or
// agentops.entity.output (a map or a JSON string), then the v0.2 "reward"
// attribute of a span named agentlightning.annotation.
//
// The functions take an Attributes view so that the same code serves pdata
// (FromPData, for processors and connectors) and the store's spans
// (FromModel, numbers as json.Number). Nothing here mutates its input except
// the Write functions, which rewrite one prefix of a pcommon.Map.
//
// Where Agent Lightning raises on malformed input, these functions return an
// *Error naming the attribute and a Reason, so callers can skip the value and
// count it. Differences from Python, all on inputs Python mishandles:
//   - NaN and infinite values are rejected (ReasonNonFinite); Python passes
//     them on to the trainer.
//   - A legacy reward value that is not a number (an AgentOps value or a
//     v0.2 "reward" attribute holding, say, a list) is an error; Python
//     returns it unchanged and fails later. Numeric strings and booleans are
//     read as numbers, as pydantic's lax float validation does for the
//     canonical list.
//   - Links and Tags of a span with no link or tag attribute are empty;
//     Python's extract_*_from_attributes raise a validation error there.
//   - An AgentOps output that is a JSON array or scalar is ignored; Python
//     raises AttributeError on it.
package rewards // import "github.com/otelcol-lightning/otelcol-lightning/pkg/rewards"
