//go:generate go -C ../../internal/tools tool mdatagen ${PWD}/metadata.yaml

// Package lightningstorereceiver feeds the spans that Agent Lightning clients
// post to the lightningstore extension's OTLP endpoint (/v1/traces on the
// store API port) into a traces pipeline, so they pass through the same
// processors and exporters as spans from the otlp receiver.
package lightningstorereceiver
