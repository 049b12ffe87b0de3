// Package pgstore is the PostgreSQL backend of the Lightning store: a
// Dialect for sqlstore over pgx v5 (through its database/sql adapter), for
// deployments where many collectors and trainers share one store.
//
// Concurrency model. Unlike SQLite, PostgreSQL lets several processes
// write at once, so every read-modify-write of Core must stay correct when
// two Cores run it on the same rows:
//
//   - Update runs at READ COMMITTED, and every single-record read inside it
//     takes a row lock (SELECT ... FOR UPDATE). Core always reads a rollout
//     before touching its attempts, spans or queue entry, so the rollout row
//     is the lock that orders all changes to one rollout, and each later
//     statement of the transaction sees what the previous holder committed.
//   - A read by key that finds nothing takes a transaction-scoped advisory
//     lock on that key and reads again, so two transactions that both
//     create the same rollout, attempt, worker or resources snapshot run
//     one after the other instead of one failing on the duplicate.
//   - The queue is popped with DELETE ... WHERE pos IN (SELECT ... FOR
//     UPDATE SKIP LOCKED): concurrent dequeuers never wait for each other
//     and never receive the same rollout.
//   - Span sequence ids come from an upsert ... RETURNING on one counter row
//     per rollout, which is atomic across processes.
//   - The watchdog's write transaction first tries an advisory lock, so one
//     process at a time marks attempts; the others skip that round. The
//     watchdog also locks the active rollouts it examines.
//   - Deadlocks and serialisation failures roll the whole transaction back;
//     Update then runs it again (a bounded number of times, with jittered
//     backoff). Lost connections and server shutdowns are reported as
//     store.TransientError, which the exporters retry.
//   - View runs read-only at REPEATABLE READ: one snapshot for all of its
//     statements.
//
// Schema. Every table keeps the scalar columns filters and sorts use plus
// the record's JSON in a TEXT doc column (not jsonb, which would reorder
// keys and respace the text that fields kept only in the document sort
// by). Text columns are COLLATE "C", so strings sort by code point as Agent
// Lightning's Python sort does. Migrations are versioned in
// schema_migrations and applied under an advisory lock, so several
// collectors starting together migrate once. A store may live in its own
// schema (Config.Schema), so one database can hold several stores; locks
// are scoped to the schema.
package pgstore
