//go:generate go -C ../../internal/tools tool mdatagen ${PWD}/metadata.yaml

// Package lightningstoreextension owns the Lightning store: it opens the
// backend (SQLite, memory or PostgreSQL), runs the watchdog, serves Agent
// Lightning's v0.3 REST API and OTLP/HTTP /v1/traces on one HTTP server, and
// holds the identity policy that every component filing spans into rollouts
// asks for. Other components find it on the host by component id
// (store.Provider, otlpspan.IdentityProvider, storeapi.Router).
package lightningstoreextension
