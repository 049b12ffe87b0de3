package pgstore

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"hash/fnv"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/sqlstore"
)

// Name is the store name reported in statistics.
const Name = "PostgresLightningStore"

// dialect is PostgreSQL's sqlstore.Dialect. Advisory lock keys are hashed
// from the store's schema, so stores in different schemas of one database
// never wait for each other.
type dialect struct {
	schema string
}

var (
	_ sqlstore.Dialect       = dialect{}
	_ sqlstore.KeyLocker     = dialect{}
	_ sqlstore.ScanLocker    = dialect{}
	_ sqlstore.BatchInserter = dialect{}
)

func (dialect) Name() string                     { return Name }
func (dialect) Migrations() []sqlstore.Migration { return migrations }

// Rebind numbers the placeholders: the n-th "?" becomes $n.
func (dialect) Rebind(q string) string {
	n := strings.Count(q, "?")
	if n == 0 {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + n*4)
	i := 0
	for {
		j := strings.IndexByte(q, '?')
		if j < 0 {
			b.WriteString(q)
			return b.String()
		}
		i++
		b.WriteString(q[:j])
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(i))
		q = q[j+1:]
	}
}

// MigrationLock serialises migrations of this schema across processes until
// the migration transaction ends.
func (d dialect) MigrationLock() string {
	return "SELECT pg_advisory_xact_lock(" + strconv.FormatInt(lockKey(d.schema, "migrate"), 10) + ")"
}

// Contains uses strpos, which matches the bound string literally.
func (dialect) Contains(col string) string {
	return col + " IS NOT NULL AND strpos(" + col + ", ?) > 0"
}

func (dialect) Greatest(a, b string) string { return "GREATEST(" + a + ", " + b + ")" }

// JSONText parses the stored text as json (not jsonb, which would respace
// it) and returns the key's JSON text, sorted by code point.
func (dialect) JSONText(doc, key string) string {
	return "(((" + doc + ")::json -> '" + key + "')::text COLLATE \"C\")"
}

func (dialect) ForUpdate() string { return "FOR UPDATE" }

// QueuePop claims the head of the queue, skipping rows another transaction
// is popping, so no two transactions ever get the same row.
func (dialect) QueuePop() string {
	return `DELETE FROM rollout_queue WHERE pos IN (
		SELECT pos FROM rollout_queue ORDER BY pos LIMIT ? FOR UPDATE SKIP LOCKED)
		RETURNING pos, rollout_id`
}

// UpdateTxOptions: READ COMMITTED with row locks (see the package doc).
func (dialect) UpdateTxOptions() *sql.TxOptions {
	return &sql.TxOptions{Isolation: sql.LevelReadCommitted}
}

// ViewTxOptions: one snapshot for every statement of the view.
func (dialect) ViewTxOptions() *sql.TxOptions {
	return &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
}

// LockKey locks a record's key until the transaction ends.
func (d dialect) LockKey(table string, key ...string) (string, []any) {
	return "SELECT pg_advisory_xact_lock(?)", []any{lockKey(d.schema, append([]string{"key", table}, key...)...)}
}

// TryScanLock takes the watchdog lock of this schema if it is free.
func (d dialect) TryScanLock() string {
	return "SELECT pg_try_advisory_xact_lock(" + strconv.FormatInt(lockKey(d.schema, "watchdog"), 10) + ")"
}

// MaxInsertRows: 512 rows of 10 columns stay far below PostgreSQL's 65535
// parameters per statement, and a collector's batch of 512 spans is one
// statement.
func (dialect) MaxInsertRows() int { return 512 }

// IsTransient reports errors another try may not meet: a lost or refused
// connection, a server shutting down or out of resources, a deadlock, a
// serialisation failure, a lock or statement timeout.
func (dialect) IsTransient(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return transientCode(pgErr.Code)
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// transientCode classifies SQLSTATE codes.
func transientCode(code string) bool {
	if len(code) < 2 {
		return false
	}
	switch code[:2] {
	case "08", // connection exception
		"40", // transaction rollback: serialisation failure, deadlock
		"53": // insufficient resources: too many connections, out of memory
		return true
	}
	switch code {
	case "55P03", // lock_not_available (lock_timeout)
		"57014", // query_canceled (statement_timeout)
		"57P01", // admin_shutdown
		"57P02", // crash_shutdown
		"57P03": // cannot_connect_now (starting up)
		return true
	}
	return false
}

// conflictCode reports the failures after which PostgreSQL has rolled the
// whole transaction back and running it again is safe and likely to pass.
func conflictCode(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return pgErr.Code == "40001" || pgErr.Code == "40P01" // serialization_failure, deadlock_detected
}

// lockKey hashes a lock's name, scoped to the schema, into the 64-bit key
// space of PostgreSQL's advisory locks.
func lockKey(schema string, parts ...string) int64 {
	h := fnv.New64a()
	_, _ = io.WriteString(h, "otelcol-lightning\x00"+schema)
	for _, p := range parts {
		_, _ = io.WriteString(h, "\x00"+p)
	}
	return int64(h.Sum64())
}
