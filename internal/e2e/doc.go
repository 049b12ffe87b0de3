// Package e2e holds end-to-end tests of the otelcol-lightning binary: they
// build the real distribution, start it with config/collector.yaml on free
// ports, send OTLP the way agents do (Go SDK over gRPC and HTTP, OTLP/JSON
// like the README's curl) and read the data back through the Agent Lightning
// store REST API.
//
// The tests are skipped with -short, since they build and run the binary.
package e2e
