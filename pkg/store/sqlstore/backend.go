package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// Backend is a store.Backend over database/sql.
type Backend struct {
	d      Dialect
	writer *sql.DB
	reader *sql.DB
	q      queries
	tables tables
	// prepared holds the fixed statements prepared once on writer, indexed
	// by stmtID; write transactions bind them with Tx.StmtContext.
	prepared []*sql.Stmt
	// Run-time texts prepared per pool (stmtcache.go).
	writeCache, readCache *stmtCache
	closed                atomic.Bool

	// What the dialect offers for concurrent writers (nil or 0: nothing).
	keyLocker    KeyLocker
	checkpointer Checkpointer
	scanLock     string
	insertRows   int

	// Rows that reads skipped because their document does not decode.
	logger      atomic.Pointer[zap.Logger]
	undecodable atomic.Int64
}

// SetLogger sets where skipped rows are reported (store.UndecodableReporter).
func (b *Backend) SetLogger(l *zap.Logger) { b.logger.Store(l) }

// UndecodableRows is how many rows reads have skipped.
func (b *Backend) UndecodableRows() int64 { return b.undecodable.Load() }

// skipRow counts and reports a stored document that does not decode. A
// list read leaves it out instead of failing: one bad row (deeper than a
// decoder reads, written by an older release, damaged) must not make the
// rest of a rollout, or of every search, unreadable.
func (b *Backend) skipRow(op string, doc []byte, err error) {
	b.undecodable.Add(1)
	if l := b.logger.Load(); l != nil {
		l.Error("Skipped a stored row that cannot be decoded",
			append(docIDs(doc), zap.String("op", op), zap.Int("bytes", len(doc)), zap.Error(err))...)
	}
}

var (
	_ store.Backend             = (*Backend)(nil)
	_ store.UndecodableReporter = (*Backend)(nil)
)

// New migrates the database and returns a Backend that runs Update on
// writer and View on reader (they may be the same pool). The Backend owns
// both pools and closes them in Close, also when New fails.
func New(ctx context.Context, d Dialect, writer, reader *sql.DB) (*Backend, error) {
	b := &Backend{d: d, writer: writer, reader: reader, writeCache: newStmtCache(writer), readCache: newStmtCache(reader)}
	b.keyLocker, _ = d.(KeyLocker)
	b.checkpointer, _ = d.(Checkpointer)
	if l, ok := d.(ScanLocker); ok {
		b.scanLock = l.TryScanLock()
	}
	if bi, ok := d.(BatchInserter); ok {
		b.insertRows = powerOfTwoAtMost(bi.MaxInsertRows())
	}
	b.q = buildQueries(d)
	b.tables = buildTables(d)
	if err := migrate(ctx, d, writer); err != nil {
		_ = b.closeDBs()
		return nil, err
	}
	if err := b.prepare(ctx); err != nil {
		_ = b.closeDBs()
		return nil, err
	}
	return b, nil
}

func (b *Backend) prepare(ctx context.Context) error {
	b.prepared = make([]*sql.Stmt, numStmts)
	for id := range numStmts {
		s, err := b.writer.PrepareContext(ctx, b.q.sql[id])
		if err != nil {
			return b.wrap(fmt.Sprintf("prepare %q", b.q.sql[id]), err)
		}
		b.prepared[id] = s
	}
	return nil
}

// Name reports the dialect's store name.
func (b *Backend) Name() string { return b.d.Name() }

// Update runs fn in a write transaction on the writer pool.
func (b *Backend) Update(ctx context.Context, fn func(store.Tx) error) error {
	return b.run(ctx, b.writer, b.d.UpdateTxOptions(), true, fn)
}

// View runs fn in a read-only transaction on the reader pool.
func (b *Backend) View(ctx context.Context, fn func(store.Tx) error) error {
	return b.run(ctx, b.reader, b.d.ViewTxOptions(), false, fn)
}

func (b *Backend) run(ctx context.Context, db *sql.DB, opts *sql.TxOptions, write bool, fn func(store.Tx) error) error {
	if b.closed.Load() {
		return store.ErrClosed
	}
	sqlTx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return b.wrap("begin transaction", err)
	}
	t := &tx{b: b, ctx: ctx, tx: sqlTx, write: write, cache: b.readCache}
	if write {
		t.cache = b.writeCache
	}
	// Deferred first, so it runs last: once the transaction has given its
	// connection back (see stmtCache).
	defer func() { t.cache.fill(ctx, t.missed) }()
	// Rolls back when fn fails or panics; a no-op after Commit.
	defer func() { _ = sqlTx.Rollback() }()
	if err := fn(t); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return b.wrap("commit", err)
	}
	if write {
		b.checkpoint(ctx)
	}
	return nil
}

// checkpoint shrinks the write-ahead log when the dialect says it has
// outgrown its bound. The transaction is committed either way; a
// checkpoint that cannot finish is the dialect's to retry later.
func (b *Backend) checkpoint(ctx context.Context) {
	if b.checkpointer != nil && b.checkpointer.CheckpointDue() {
		b.checkpointer.Checkpoint(ctx, b.writer)
	}
}

// Close closes the prepared statements and both pools.
func (b *Backend) Close() error {
	if !b.closed.CompareAndSwap(false, true) {
		return nil
	}
	var errs []error
	for _, s := range b.prepared {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	errs = append(errs, b.writeCache.close(), b.readCache.close())
	errs = append(errs, b.closeDBs())
	return errors.Join(errs...)
}

func (b *Backend) closeDBs() error {
	err := b.writer.Close()
	if b.reader != b.writer {
		err = errors.Join(err, b.reader.Close())
	}
	return err
}

// wrap adds context to a database error and marks it transient when the
// dialect says retrying may help.
func (b *Backend) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	wrapped := fmt.Errorf("%s: %w", op, err)
	if b.d.IsTransient(err) {
		return &store.TransientError{Err: wrapped}
	}
	return wrapped
}
