// Package storeapi serves a store.Store over HTTP with the REST contract of
// Agent Lightning v0.3's LightningStoreServer (the /v1/agl/* routes), so the
// Python LightningStoreClient, runners and algorithms work against it
// unchanged.
//
// Compatibility points worth knowing: request bodies and query strings are
// validated like the Python server's Pydantic models and refused with 422
// and FastAPI's error list; the server's own checks (an explicit null for a
// mandatory field, limit 0, a bad sort field) answer 400 {"detail": ...};
// every store failure, unknown ids included, answers 500 with
// {"detail":"Internal server error","error_type":...,"traceback":...}, which
// the Python client retries; a missing entity on a GET is 200 with null.
// Unknown /v1 paths answer 404 {"detail":"Not Found"} and known paths with
// another method 405 {"detail":"Method Not Allowed"}.
//
// OTLP trace ingest (POST /v1/traces) is plugged in with WithTracesHandler,
// and other APIs can share the listener through WithExtraRoutes.
package storeapi
