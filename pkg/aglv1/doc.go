// Package aglv1 serves Agent Lightning v1.0's gateway API (/healthz,
// /api/rollouts..., /api/models) over the collector's store, beside the v0.3
// API on the same port. Routes, status codes, JSON shapes and error bodies
// follow v1.0.0's FastAPI server; the records are the store's, so a rollout
// made through either API is visible through both (store/core_v1.go holds
// the state mapping). The /proxy routes are the llmproxy receiver's.
package aglv1
