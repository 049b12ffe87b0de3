package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/sqlstore"
)

// Option tunes Open.
type Option func(*config)

type config struct {
	busyTimeout time.Duration
	readConns   int
}

// WithBusyTimeout sets how long a statement waits for a lock held by
// another process before failing with a (transient) busy error. Default 5s.
func WithBusyTimeout(d time.Duration) Option {
	return func(c *config) { c.busyTimeout = d }
}

// WithReadConnections sets the size of the read pool used by View.
// Default: max(4, GOMAXPROCS).
func WithReadConnections(n int) Option {
	return func(c *config) { c.readConns = n }
}

// Open opens (creating it if needed) the SQLite database at path, applies
// any missing schema migrations and returns it as a store backend.
func Open(path string, opts ...Option) (store.Backend, error) {
	return OpenContext(context.Background(), path, opts...)
}

// OpenContext is Open with a context bounding the migration.
func OpenContext(ctx context.Context, path string, opts ...Option) (store.Backend, error) {
	cfg := config{busyTimeout: 5 * time.Second, readConns: max(4, runtime.GOMAXPROCS(0))}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.readConns < 1 {
		return nil, fmt.Errorf("sqlite store: read connections must be at least 1, got %d", cfg.readConns)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite store: resolve path %q: %w", path, err)
	}

	writer, err := sql.Open("sqlite", dsn(abs, cfg, true))
	if err != nil {
		return nil, fmt.Errorf("sqlite store: open %s: %w", abs, err)
	}
	// One connection: SQLite has one writer anyway, and waiting for it in
	// database/sql honours the caller's context, unlike waiting on the file
	// lock. Keeping it open keeps its prepared statements.
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	// The writer creates the file and switches it to WAL before any reader
	// connects.
	if err := writer.PingContext(ctx); err != nil {
		_ = writer.Close()
		return nil, fmt.Errorf("sqlite store: open %s: %w", abs, err)
	}

	reader, err := sql.Open("sqlite", dsn(abs, cfg, false))
	if err != nil {
		_ = writer.Close()
		return nil, fmt.Errorf("sqlite store: open %s: %w", abs, err)
	}
	reader.SetMaxOpenConns(cfg.readConns)
	reader.SetMaxIdleConns(cfg.readConns)

	b, err := sqlstore.New(ctx, dialect{wal: &walState{path: abs + "-wal", busyTimeout: cfg.busyTimeout}}, writer, reader)
	if err != nil {
		return nil, fmt.Errorf("sqlite store %s: %w", abs, err)
	}
	return b, nil
}

// walSizeLimit bounds the WAL file after checkpoints (bytes).
const walSizeLimit = 64 << 20

// walCheckpointAt is the WAL size at which a write forces a checkpoint that
// truncates it: SQLite's automatic checkpoints cannot restart the WAL while
// reads overlap them, and under sustained ingest with readers (a trainer
// polling, the watchdog) it grew past the database itself.
var walCheckpointAt int64 = 256 << 20

// dsn builds a file: URI for the driver. The writer sets the persistent WAL
// mode and begins its transactions IMMEDIATE; readers are query-only.
func dsn(path string, cfg config, write bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(cfg.busyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "synchronous(NORMAL)")
	if write {
		q.Add("_pragma", "journal_mode(WAL)")
		// Under sustained ingest the WAL would otherwise keep the size of
		// its largest burst; after a checkpoint it is cut back to this.
		q.Add("_pragma", "journal_size_limit("+strconv.Itoa(walSizeLimit)+")")
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	u := url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}
	return u.String()
}
