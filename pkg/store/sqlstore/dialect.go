package sqlstore

import (
	"context"
	"database/sql"
)

// Dialect is what sqlstore needs to know about one database. Queries are
// written with "?" placeholders and passed through Rebind; no query contains
// a literal "?" otherwise.
//
// Text ordering must be by code point, as Agent Lightning's Python sort is:
// SQLite's default BINARY collation does this for UTF-8; a PostgreSQL schema
// should declare its text columns COLLATE "C".
type Dialect interface {
	// Name is reported as the store name in statistics.
	Name() string
	// Rebind rewrites "?" placeholders into the database's own style.
	Rebind(query string) string
	// Migrations returns the schema, oldest first, with strictly increasing
	// versions. See Migration for the tables sqlstore expects.
	Migrations() []Migration
	// MigrationLock is run first in the migration transaction so that
	// several processes opening one database migrate it once ("" for none).
	MigrationLock() string
	// Contains returns a condition true when the text expression col is not
	// null and contains, case-sensitively, the string bound to the single
	// "?" it holds. LIKE is wrong here: "%" and "_" must match themselves.
	Contains(col string) string
	// Greatest returns the larger of two numeric expressions.
	Greatest(a, b string) string
	// JSONText returns the JSON text of the top-level key of the JSON
	// document in column doc (null when absent); used to sort and filter on
	// fields kept only in the document.
	JSONText(doc, key string) string
	// ForUpdate is appended to single-record reads inside Update so that
	// databases with concurrent writers lock what Core is about to change
	// ("" where writers are serialised anyway).
	ForUpdate() string
	// QueuePop deletes at most n (the single "?") rows from the head of
	// rollout_queue and returns their pos and rollout_id, in any order. With
	// concurrent writers it must never let two transactions delete the same
	// row (PostgreSQL: a subquery with FOR UPDATE SKIP LOCKED).
	QueuePop() string
	// UpdateTxOptions and ViewTxOptions start the transactions of Update
	// and View; View needs one snapshot for all of its statements.
	UpdateTxOptions() *sql.TxOptions
	ViewTxOptions() *sql.TxOptions
	// IsTransient reports whether err is worth retrying (busy, locked,
	// serialisation failure, lost connection...).
	IsTransient(err error) bool
}

// Migration is one step of a dialect's schema. sqlstore records applied
// versions in schema_migrations and runs the missing ones, in order, in one
// transaction when the database is opened.
//
// The schema must provide these tables and columns (seq is an increasing
// integer assigned on insert; doc is the record's JSON as text):
//
//	rollouts(seq, rollout_id unique, status, mode, resources_id, start_time, end_time, doc)
//	attempts(seq, rollout_id, attempt_id, sequence_id, status, worker_id,
//	         start_time, end_time, last_heartbeat_time, doc), unique (rollout_id, attempt_id)
//	spans(seq, rollout_id, attempt_id, sequence_id, trace_id, span_id, parent_id, name,
//	      start_time, end_time, doc), unique (rollout_id, attempt_id, span_id)
//	resources(seq, resources_id unique, create_time, update_time, version, write_seq, doc)
//	workers(seq, worker_id unique, status, last_heartbeat_time, last_dequeue_time,
//	        last_busy_time, last_idle_time, current_rollout_id, current_attempt_id, doc)
//	rollout_queue(pos, rollout_id)
//	span_sequence(rollout_id primary key, value)
//	triplet_revisions(rollout_id, attempt_id, revision), primary key (rollout_id, attempt_id)
//	triplets(seq, rollout_id, attempt_id, revision, idx, span_id, doc)
//	messages(seq, rollout_id, attempt_id, trace_id, span_id, sequence_id, doc)
type Migration struct {
	Version    int
	Name       string
	Statements []string
}

// The optional interfaces below are implemented by dialects of databases
// that several processes write at once (PostgreSQL). A dialect without them
// gets the single-writer behaviour, which is all SQLite needs.

// KeyLocker makes "find it or create it" safe under concurrent writers.
// Within Update, a single-record read by key that finds nothing takes the
// lock this returns and reads again: two transactions that both miss the
// record then run one after the other, and the second finds what the first
// created instead of failing on the duplicate (row locks cannot lock a row
// that does not exist yet).
type KeyLocker interface {
	// LockKey returns a statement, with its arguments, that locks the key of
	// a record of table until the transaction ends.
	LockKey(table string, key ...string) (string, []any)
}

// ScanLocker lets one process at a time run the watchdog's writes on a
// shared database (see store.ScanLocker).
type ScanLocker interface {
	// TryScanLock returns a statement selecting one boolean: whether it took
	// a lock held until the transaction ends, without waiting for it.
	TryScanLock() string
}

// Checkpointer is implemented by dialects whose write-ahead log must be
// checkpointed explicitly under sustained writes: SQLite's automatic
// checkpoints never let the WAL file start over while reads keep
// overlapping them, so it grows without bound.
type Checkpointer interface {
	// CheckpointDue reports whether the log has outgrown its bound; it is
	// asked after every committed write transaction, so it must be cheap.
	CheckpointDue() bool
	// Checkpoint checkpoints the log and shrinks it, using writer between
	// transactions. It must not hold the writer long when readers keep the
	// log busy: writes wait for it.
	Checkpoint(ctx context.Context, writer *sql.DB)
}

// BatchInserter is implemented by dialects for which one statement per span
// costs a network round trip: spans are then inserted with multi-row
// INSERT statements.
type BatchInserter interface {
	// MaxInsertRows bounds the rows of one INSERT; it is rounded down to a
	// power of two.
	MaxInsertRows() int
}
