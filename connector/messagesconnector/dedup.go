package messagesconnector // import "github.com/otelcol-lightning/otelcol-lightning/connector/messagesconnector"

// callKey identifies an LLM call across spans: two spans of one attempt
// with the same response id record the same call.
type callKey struct {
	rollout, attempt, responseID string
}

// callKeyBytes is the average memory allowed per remembered call: the
// dedup set holds at most dedup_cache_size × callKeyBytes, so ids of usual
// length fit the count and long ids cannot hold more.
const callKeyBytes = 256

// keyBytes estimates the memory a remembered key holds: its strings and the
// set's entry (map slot and ring slot, string headers included).
func (k callKey) keyBytes() int {
	return len(k.rollout) + len(k.attempt) + len(k.responseID) + 128
}
