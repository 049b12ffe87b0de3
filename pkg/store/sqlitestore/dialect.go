package sqlitestore

import (
	"database/sql"
	"errors"
	"os"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/sqlstore"
)

// Name is the store name reported in statistics.
const Name = "SQLiteLightningStore"

// dialect is SQLite's sqlstore.Dialect.
type dialect struct {
	walPath string // the database's -wal file, watched for CheckpointDue
}

var (
	_ sqlstore.Dialect      = dialect{}
	_ sqlstore.Checkpointer = dialect{}
)

// CheckpointDue is true once the WAL file is walCheckpointAt bytes long.
// A missing file (not in WAL mode, or just truncated) is not due.
func (d dialect) CheckpointDue() bool {
	info, err := os.Stat(d.walPath)
	return err == nil && info.Size() >= walCheckpointAt
}

// Checkpoint copies the whole WAL into the database, waiting (up to the
// busy timeout) for readers of older frames to finish, then truncates it.
func (dialect) Checkpoint() string { return "PRAGMA wal_checkpoint(TRUNCATE)" }

func (dialect) Name() string                     { return Name }
func (dialect) Rebind(q string) string           { return q }
func (dialect) Migrations() []sqlstore.Migration { return migrations }

// MigrationLock is empty: BEGIN IMMEDIATE already excludes other writers.
func (dialect) MigrationLock() string { return "" }

func (dialect) Contains(col string) string {
	return col + " IS NOT NULL AND instr(" + col + ", ?) > 0"
}

// Greatest uses SQLite's two-argument scalar max().
func (dialect) Greatest(a, b string) string { return "max(" + a + ", " + b + ")" }

// JSONText uses ->, which returns JSON text for every value type.
func (dialect) JSONText(doc, key string) string { return "(" + doc + " -> '$." + key + "')" }

// ForUpdate is empty: SQLite has a single writer, so rows read in Update
// cannot change before it commits.
func (dialect) ForUpdate() string { return "" }

// QueuePop needs no row locks for the same reason.
func (dialect) QueuePop() string {
	return `DELETE FROM rollout_queue WHERE pos IN (SELECT pos FROM rollout_queue ORDER BY pos LIMIT ?)
		RETURNING pos, rollout_id`
}

// UpdateTxOptions: the writer's DSN makes BEGIN IMMEDIATE the default.
func (dialect) UpdateTxOptions() *sql.TxOptions { return nil }

// ViewTxOptions: a deferred transaction reads one WAL snapshot from its
// first statement on.
func (dialect) ViewTxOptions() *sql.TxOptions { return &sql.TxOptions{ReadOnly: true} }

// IsTransient reports lock contention and I/O errors, which another try
// may not meet.
func (dialect) IsTransient(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_PROTOCOL:
		return true
	}
	return false
}
