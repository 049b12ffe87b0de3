package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// Core gives a Backend the Agent Lightning store semantics. It holds no
// data itself: every rule runs inside one backend transaction, so several
// Cores (several collectors) can share one database.
type Core struct {
	backend Backend
	opts    Options
	logger  *zap.Logger
	created time.Time

	lastScan atomic.Int64 // unix nanos of the last debounced scan
	scanning atomic.Bool

	subs subscribers

	group *groupCommitter // pipeline writes share transactions (core_commit.go)

	notifyMu sync.Mutex
	notify   chan struct{} // closed and replaced whenever data changes

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
	closed   atomic.Bool
}

var _ Store = (*Core)(nil)

// New returns a store with Agent Lightning semantics over backend. Close
// stops the watchdog ticker and closes the backend.
func New(backend Backend, opts Options) *Core {
	opts = opts.withDefaults()
	c := &Core{
		backend: backend,
		opts:    opts,
		logger:  opts.Logger,
		created: opts.Clock(),
		notify:  make(chan struct{}),
		stop:    make(chan struct{}),
		group:   newGroupCommitter(),
	}
	c.lastScan.Store(-1)
	if r, ok := backend.(UndecodableReporter); ok {
		r.SetLogger(c.logger)
	}
	c.wg.Add(1)
	go c.runGroupWriter()
	if opts.ScanInterval > 0 {
		c.wg.Add(1)
		go c.runWatchdog(opts.ScanInterval)
	}
	return c
}

// UndecodableRows is how many stored rows reads have skipped because they
// could not be decoded (0 for backends that keep decoded values).
func (c *Core) UndecodableRows() int64 {
	if r, ok := c.backend.(UndecodableReporter); ok {
		return r.UndecodableRows()
	}
	return 0
}

// Close stops background work and closes the backend.
func (c *Core) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	c.stopOnce.Do(func() { close(c.stop) })
	c.wg.Wait()
	return c.backend.Close()
}

// Backend exposes the underlying backend (for tools such as exports).
func (c *Core) Backend() Backend { return c.backend }

func (c *Core) now() float64 {
	return float64(c.opts.Clock().UnixNano()) / 1e9
}

// update runs fn in a write transaction and wakes waiters afterwards.
func (c *Core) update(ctx context.Context, fn func(Tx) error) error {
	if c.closed.Load() {
		return ErrClosed
	}
	err := c.backend.Update(ctx, fn)
	if err == nil {
		c.broadcast()
	}
	return err
}

func (c *Core) view(ctx context.Context, fn func(Tx) error) error {
	if c.closed.Load() {
		return ErrClosed
	}
	return c.backend.View(ctx, fn)
}

func (c *Core) broadcast() {
	c.notifyMu.Lock()
	close(c.notify)
	c.notify = make(chan struct{})
	c.notifyMu.Unlock()
}

func (c *Core) changed() <-chan struct{} {
	c.notifyMu.Lock()
	defer c.notifyMu.Unlock()
	return c.notify
}

func newID(prefix string, hexChars int) string {
	b := make([]byte, (hexChars+1)/2)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)[:hexChars]
}

func newRolloutID() string   { return newID("ro-", 12) }
func newAttemptID() string   { return newID("at-", 8) }
func newResourcesID() string { return newID("rs-", 12) }

// Statistics reports record totals, the store name and its uptime.
func (c *Core) Statistics(ctx context.Context) (map[string]any, error) {
	var n Counts
	err := c.view(ctx, func(tx Tx) error {
		var err error
		n, err = tx.Counts()
		return err
	})
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"name":            c.backend.Name(),
		"total_rollouts":  n.Rollouts,
		"total_attempts":  n.Attempts,
		"total_spans":     n.Spans,
		"total_resources": n.Resources,
		"total_workers":   n.Workers,
		"total_triplets":  n.Triplets,
		"total_messages":  n.Messages,
		"uptime":          c.opts.Clock().Sub(c.created).Seconds(),
	}, nil
}

func jsonOrEmptyObject(b []byte) []byte {
	if len(b) == 0 || string(b) == "null" {
		return []byte("{}")
	}
	return b
}

func cloneConfig(cfg *model.RolloutConfig) model.RolloutConfig {
	if cfg == nil {
		return model.DefaultRolloutConfig()
	}
	out := *cfg
	out.RetryCondition = append([]model.AttemptStatus{}, cfg.RetryCondition...)
	if out.MaxAttempts == 0 {
		out.MaxAttempts = 1
	}
	return out
}
