// Package store defines the Lightning store: the Agent Lightning v0.3
// LightningStore semantics (queue, attempts, status propagation, span
// sequence ids, heartbeats, resources, workers, waits) plus triplets and
// messages. The semantics are implemented once, in Core, on top of a small
// transactional Backend; each database (memory, SQLite, PostgreSQL) only
// implements Backend, and the conformance suite in storetest defines the
// behaviour every backend must show.
package store
