// Package sqlitestore is the embedded SQLite backend of the Lightning store:
// a Dialect for sqlstore over the pure-Go modernc.org/sqlite driver.
//
// Schema choices:
//
//   - Every record is stored whole as JSON text in a doc column, which reads
//     decode, so fields the model does not declare (Agent Lightning's spans
//     allow extra keys) round-trip. Beside it sit the scalar columns that
//     filters, sorts and look-ups use; fields kept only in the document
//     (input, metadata, attributes...) sort by their JSON text.
//   - Each table has seq INTEGER PRIMARY KEY AUTOINCREMENT, the insertion
//     order that breaks sort ties. AUTOINCREMENT (not a plain rowid) so a
//     deleted tail row's number is never reused, which the queue relies on
//     for FIFO order.
//   - Natural keys are UNIQUE constraints, and every upsert (ON CONFLICT)
//     targets them; an upsert keeps the row's seq, as updating a Python dict
//     keeps the key's position.
//   - No foreign keys: Core checks references (as Agent Lightning does, its
//     collections have none), and the span ingest path stays one index
//     probe lighter.
//   - Spans are indexed by (rollout_id, sequence_id, seq), the default order
//     of a rollout's spans, so the common query reads the index in order.
//   - triplet_revisions keeps the revision of each attempt's triplets apart
//     from the rows, so replacing them with none still fences off older
//     revisions.
//
// Connections: the database runs in WAL mode with synchronous=NORMAL, so
// readers never block the writer. Update uses a single writer connection
// whose transactions begin IMMEDIATE (taking the write lock up front, so a
// transaction never fails half-way on a lock upgrade); View uses a pool of
// query-only connections, each transaction reading one snapshot.
package sqlitestore
