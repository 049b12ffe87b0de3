package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"
)

// stmtCache keeps prepared statements for the query texts built at run
// time (filters, IN lists, multi-row inserts) and for the read texts of the
// fixed statements, so that SQLite parses each text once per connection
// instead of on every call (it was 6–7 % of the collector's CPU under load).
//
// A statement is never prepared inside a transaction: database/sql would
// take a second connection from the pool, and with every connection held by
// a transaction waiting to prepare (SQLite's writer pool has one) that would
// deadlock. A transaction that misses runs the text unprepared and notes it;
// the texts it missed are prepared once it has ended.
type stmtCache struct {
	db  *sql.DB
	max int

	mu sync.RWMutex
	m  map[string]*sql.Stmt
}

// maxCachedStmts bounds each pool's cache: the texts in use are a few
// dozen, and a caller varying its filters cannot grow it past this.
const maxCachedStmts = 256

// prepareTimeout bounds the preparation of missed texts after a
// transaction; a busy pool only delays the cache, never a caller.
const prepareTimeout = time.Second

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, max: maxCachedStmts, m: map[string]*sql.Stmt{}}
}

func (c *stmtCache) get(text string) *sql.Stmt {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[text]
}

// fill prepares the texts a transaction missed, up to the bound. Failures
// are ignored: the text keeps running unprepared.
func (c *stmtCache) fill(ctx context.Context, texts []string) {
	for _, text := range texts {
		c.mu.RLock()
		_, have := c.m[text]
		full := len(c.m) >= c.max
		c.mu.RUnlock()
		if have || full {
			continue
		}
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), prepareTimeout)
		s, err := c.db.PrepareContext(pctx, text)
		cancel()
		if err != nil {
			continue
		}
		c.mu.Lock()
		if _, have := c.m[text]; have || len(c.m) >= c.max {
			c.mu.Unlock()
			_ = s.Close()
			continue
		}
		c.m[text] = s
		c.mu.Unlock()
	}
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, s := range c.m {
		errs = append(errs, s.Close())
	}
	c.m = map[string]*sql.Stmt{}
	return errors.Join(errs...)
}

// queryText runs a query text, prepared when the cache has it.
func (t *tx) queryText(text string, args ...any) (*sql.Rows, error) {
	if s := t.cache.get(text); s != nil {
		return t.tx.StmtContext(t.ctx, s).QueryContext(t.ctx, args...)
	}
	t.missed = append(t.missed, text)
	return t.tx.QueryContext(t.ctx, text, args...)
}

// queryRowText is queryText for a single row.
func (t *tx) queryRowText(text string, args ...any) *sql.Row {
	if s := t.cache.get(text); s != nil {
		return t.tx.StmtContext(t.ctx, s).QueryRowContext(t.ctx, args...)
	}
	t.missed = append(t.missed, text)
	return t.tx.QueryRowContext(t.ctx, text, args...)
}

// execText is queryText for a statement without rows.
func (t *tx) execText(text string, args ...any) (sql.Result, error) {
	if s := t.cache.get(text); s != nil {
		return t.tx.StmtContext(t.ctx, s).ExecContext(t.ctx, args...)
	}
	t.missed = append(t.missed, text)
	return t.tx.ExecContext(t.ctx, text, args...)
}
