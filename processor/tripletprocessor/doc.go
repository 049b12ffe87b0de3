//go:generate go -C ../../internal/tools tool mdatagen ${PWD}/metadata.yaml

// Package tripletprocessor turns the LLM calls of each rollout attempt into
// Agent Lightning (prompt, response, reward) triplets. Spans pass through at
// once; a bounded copy is kept per attempt until the attempt completes, then
// its trace tree is rebuilt, its LLM calls found with the GenAI parser, its
// rewards matched by policy, and one agentlightning.triplet span per triplet
// is sent downstream.
package tripletprocessor
