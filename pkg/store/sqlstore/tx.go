package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// tx is one store.Tx over a database/sql transaction.
type tx struct {
	b     *Backend
	ctx   context.Context
	tx    *sql.Tx
	write bool
	// stmts caches the prepared statements bound to this transaction, so a
	// batch of span inserts binds the statement once.
	stmts [numStmts]*sql.Stmt
	// cache holds the pool's prepared run-time texts; missed lists the
	// texts this transaction ran unprepared, prepared once it has ended.
	cache  *stmtCache
	missed []string
}

var _ store.Tx = (*tx)(nil)

func (t *tx) stmt(id stmtID) *sql.Stmt {
	if t.stmts[id] == nil {
		t.stmts[id] = t.tx.StmtContext(t.ctx, t.b.prepared[id])
	}
	return t.stmts[id]
}

func (t *tx) exec(id stmtID, args ...any) (sql.Result, error) {
	if t.write {
		return t.stmt(id).ExecContext(t.ctx, args...)
	}
	return t.execText(t.b.q.read[id], args...)
}

func (t *tx) query(id stmtID, args ...any) (*sql.Rows, error) {
	if t.write {
		return t.stmt(id).QueryContext(t.ctx, args...)
	}
	return t.queryText(t.b.q.read[id], args...)
}

func (t *tx) queryRow(id stmtID, args ...any) *sql.Row {
	if t.write {
		return t.stmt(id).QueryRowContext(t.ctx, args...)
	}
	return t.queryRowText(t.b.q.read[id], args...)
}

func (t *tx) wrap(op string, err error) error { return t.b.wrap(op, err) }

// getDoc decodes the single document a statement selects into a new T, or
// returns nil when there is none.
func getDoc[T any](t *tx, op string, id stmtID, args ...any) (*T, error) {
	var doc []byte
	if err := t.queryRow(id, args...).Scan(&doc); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, t.wrap(op, err)
	}
	out := new(T)
	if err := json.Unmarshal(doc, out); err != nil {
		return nil, fmt.Errorf("%s: decode stored document: %w", op, err)
	}
	return out, nil
}

// decodeDocs reads every row of a single doc column into a slice. Rows that
// do not decode are skipped and reported (Backend.skipRow).
func decodeDocs[T any](t *tx, op string, rows *sql.Rows, err error) ([]T, error) {
	if err != nil {
		return nil, t.wrap(op, err)
	}
	defer rows.Close()
	// Never nil, so an empty result encodes as [].
	out := []T{}
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return nil, t.wrap(op, err)
		}
		var v T
		if raw, ok := any(&v).(*json.RawMessage); ok {
			// A raw read hands out the document as the store wrote it: Scan
			// has copied it already, so only validity is checked (a row an
			// older release wrote past today's depth limit must be skipped
			// here, not fail the whole answer when it is encoded).
			if !json.Valid(doc) {
				t.b.skipRow(op, doc, errors.New("stored document is not JSON that can be read back"))
				continue
			}
			*raw = doc
		} else if err := json.Unmarshal(doc, &v); err != nil {
			t.b.skipRow(op, doc, err)
			continue
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, t.wrap(op, err)
	}
	return out, nil
}

// queryPage runs a filtered, sorted, paginated query on tb and counts the
// matches when the page does not tell the total by itself.
func queryPage[T any](t *tx, tb *table, f store.Filter, p store.Page) ([]T, int, error) {
	op := "query " + tb.name
	where, args, err := tb.where(t.b.d, f)
	if err != nil {
		return nil, 0, err
	}
	order, err := tb.orderBy(p)
	if err != nil {
		return nil, 0, err
	}
	items := []T{}
	if p.Limit != 0 {
		q := "SELECT doc FROM " + tb.name + " WHERE " + where + " ORDER BY " + order
		qargs := args
		if p.Limit > 0 || p.Offset > 0 {
			limit, offset := limitArgs(p)
			q += " LIMIT ? OFFSET ?"
			qargs = append(append(make([]any, 0, len(args)+2), args...), limit, offset)
		}
		rows, err := t.queryText(t.b.d.Rebind(q), qargs...)
		if items, err = decodeDocs[T](t, op, rows, err); err != nil {
			return nil, 0, err
		}
	}
	if total, ok := knownTotal(p, len(items)); ok {
		return items, total, nil
	}
	var total int
	q := t.b.d.Rebind("SELECT COUNT(*) FROM " + tb.name + " WHERE " + where)
	if err := t.queryRowText(q, args...).Scan(&total); err != nil {
		return nil, 0, t.wrap("count "+tb.name, err)
	}
	return items, total, nil
}

func marshalDoc(op string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("%s: encode document: %w", op, err)
	}
	// Bound as text: SQLite would store []byte as a BLOB, which its JSON
	// functions read as JSONB.
	return string(b), nil
}

// affected reports how many rows a statement changed.
func (t *tx) affected(op string, res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, t.wrap(op, err)
	}
	return n, nil
}

// valueError is the error Agent Lightning raises for a missing or
// duplicate primary key; Core passes it on to clients unchanged.
func valueError(format string, args ...any) error {
	return &store.Error{Type: "ValueError", Message: fmt.Sprintf(format, args...)}
}

func (t *tx) Counts() (store.Counts, error) {
	var c store.Counts
	err := t.queryRow(stmtCounts).Scan(&c.Rollouts, &c.Attempts, &c.Spans, &c.Resources, &c.Workers, &c.Triplets, &c.Messages)
	if err != nil {
		return store.Counts{}, t.wrap("count records", err)
	}
	return c, nil
}

// getKeyed is getDoc for a read by key. Within Update, when the record is
// missing and the dialect is a KeyLocker, it locks the key and reads again,
// so that a concurrent transaction creating the record is waited for.
func getKeyed[T any](t *tx, op string, id stmtID, table string, key ...string) (*T, error) {
	args := make([]any, len(key))
	for i, k := range key {
		args[i] = k
	}
	v, err := getDoc[T](t, op, id, args...)
	if err != nil || v != nil {
		return v, err
	}
	if locked, err := t.lockKey(op, table, key...); err != nil || !locked {
		return nil, err
	}
	return getDoc[T](t, op, id, args...)
}

// lockKey takes the dialect's key lock in a write transaction; it reports
// false when there is none to take.
func (t *tx) lockKey(op, table string, key ...string) (bool, error) {
	if !t.write || t.b.keyLocker == nil {
		return false, nil
	}
	q, args := t.b.keyLocker.LockKey(table, key...)
	if _, err := t.execText(t.b.d.Rebind(q), args...); err != nil {
		return false, t.wrap(op+": lock key", err)
	}
	return true, nil
}

var _ store.ScanLocker = (*tx)(nil)

// TryLockScan takes the dialect's watchdog lock until the transaction ends;
// without one (a single-writer database) the scan always goes ahead.
func (t *tx) TryLockScan() (bool, error) {
	if t.b.scanLock == "" {
		return true, nil
	}
	var ok bool
	if err := t.tx.QueryRowContext(t.ctx, t.b.scanLock).Scan(&ok); err != nil {
		return false, t.wrap("lock the watchdog scan", err)
	}
	return ok, nil
}
