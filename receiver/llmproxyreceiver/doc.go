//go:generate go -C ../../internal/tools tool mdatagen ${PWD}/metadata.yaml

// Package llmproxyreceiver is an OpenAI-compatible LLM proxy that turns every
// model call an agent makes through it into one OTel GenAI span carrying the
// exact prompt and response token ids and log-probs (asked from vLLM or
// SGLang upstreams and stripped from the answer unless the client asked for
// them), labelled with the call's Agent Lightning rollout and attempt, and
// sends it into a traces pipeline. Streaming answers are passed through
// chunk by chunk and assembled for the span.
package llmproxyreceiver
