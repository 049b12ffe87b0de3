//go:generate go -C ../../internal/tools tool mdatagen ${PWD}/metadata.yaml

// Package requestguardextension is a middleware for the OTLP receivers'
// servers (confighttp and configgrpc `middlewares:`). It refuses requests
// whose attribute values nest deeper than the store can read back
// (depthlimit.Max) before the receiver decodes them, and makes the gRPC
// server answer a request it cannot decode with INVALID_ARGUMENT instead of
// gRPC's INTERNAL.
package requestguardextension
