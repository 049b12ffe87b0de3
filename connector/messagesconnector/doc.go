//go:generate mdatagen metadata.yaml

// Package messagesconnector turns the LLM-call spans of a traces pipeline
// into log records whose body is the call in OpenAI chat format, one record
// per call, labelled with the rollout and attempt the store files the span
// under. See README.md.
package messagesconnector // import "github.com/otelcol-lightning/otelcol-lightning/connector/messagesconnector"
