package messagesconnector // import "github.com/otelcol-lightning/otelcol-lightning/connector/messagesconnector"

// callKey identifies an LLM call across spans: two spans of one attempt
// with the same response id record the same call.
type callKey struct {
	rollout, attempt, responseID string
}
