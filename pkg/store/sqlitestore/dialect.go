package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/sqlstore"
)

// Name is the store name reported in statistics.
const Name = "SQLiteLightningStore"

// dialect is SQLite's sqlstore.Dialect.
type dialect struct {
	wal *walState
}

var (
	_ sqlstore.Dialect      = dialect{}
	_ sqlstore.Checkpointer = dialect{}
)

// walState is what the writer's checkpoints need to know about the WAL.
type walState struct {
	path        string        // the database's -wal file
	busyTimeout time.Duration // the writer's usual busy_timeout, restored after a checkpoint
	retryAt     atomic.Int64  // unix nanoseconds before which no checkpoint is tried again
}

// checkpointWait is how long a forced checkpoint waits for readers of old
// frames. Writes wait behind it, so a long read (an export streaming a
// large dataset) costs them this pause, not the whole busy timeout; short
// reads, even on a starved CPU, end well within it.
const checkpointWait = time.Second

// checkpointRetry spaces out checkpoints that a long read kept from
// finishing, so that it costs writes at most a tenth of their time; the
// WAL meanwhile grows by what is written in this interval.
var checkpointRetry = 10 * time.Second

// CheckpointDue is true once the WAL file is walCheckpointAt bytes long,
// unless a checkpoint just failed to finish. A missing file (not in WAL
// mode, or just truncated) is not due.
func (d dialect) CheckpointDue() bool {
	if d.wal == nil || time.Now().UnixNano() < d.wal.retryAt.Load() {
		return false
	}
	info, err := os.Stat(d.wal.path)
	return err == nil && info.Size() >= walCheckpointAt
}

// Checkpoint copies the whole WAL into the database and truncates it,
// waiting at most checkpointWait for readers of older frames; when they
// outlast that, it backs off for checkpointRetry.
func (d dialect) Checkpoint(ctx context.Context, writer *sql.DB) {
	if !d.truncateWAL(ctx, writer) {
		d.wal.retryAt.Store(time.Now().Add(checkpointRetry).UnixNano())
	}
}

// truncateWAL reports whether the checkpoint finished. It pins the
// writer's connection so that the shortened busy timeout applies to the
// checkpoint alone.
func (d dialect) truncateWAL(ctx context.Context, writer *sql.DB) bool {
	conn, err := writer.Conn(ctx)
	if err != nil {
		return false
	}
	defer conn.Close()
	defer func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), busyTimeoutPragma(d.wal.busyTimeout))
	}()
	if _, err := conn.ExecContext(ctx, busyTimeoutPragma(checkpointWait)); err != nil {
		return false
	}
	var busy, logFrames, done int
	err = conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &done)
	return err == nil && busy == 0
}

func busyTimeoutPragma(d time.Duration) string {
	return "PRAGMA busy_timeout = " + strconv.FormatInt(d.Milliseconds(), 10)
}

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

// JSONText uses ->, which returns JSON text for every value type. SQLite's
// JSON functions raise "malformed JSON" on a document nested deeper than
// 1 000 levels, which would fail every query sorting or filtering on the
// field; json_valid answers 0 for such a document instead, so its value
// sorts as null. The doors refuse such values (depthlimit.Max); this keeps
// rows written before that readable.
func (dialect) JSONText(doc, key string) string {
	return "(CASE WHEN json_valid(" + doc + ") THEN " + doc + " -> '$." + key + "' END)"
}

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
