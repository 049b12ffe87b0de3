package store

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// Group commit.
//
// Every door of the collector answers only after the data it took is
// committed (an acknowledgement means a query sees it, and a kill -9 cannot
// lose it). Committing each OTLP request in its own transaction would cap
// ingest at one commit per request, so the pipeline's writes (span batches,
// chat records, triplets) are queued to one writer goroutine, which runs
// whatever has queued up while the previous commit ran in a single
// transaction and then answers every caller at once. Batches therefore size
// themselves to commit latency: one request when the store is idle, as many
// as arrived during the last commit under load, up to maxGroupItems.

// maxGroupItems bounds the items (spans, records, triplets) one group
// transaction writes, so that one commit stays short and its memory small.
const maxGroupItems = 4096

// groupTxTimeout bounds one group transaction. Callers whose own context ends
// earlier stop waiting (their client retries; the store drops the
// duplicates), but the transaction itself is not cut short by one caller.
const groupTxTimeout = 30 * time.Second

type groupRequest struct {
	ctx   context.Context
	items int
	// rollouts are the rollout rows fn locks; the group locks them all in
	// one global order before any fn runs (see commitGroup).
	rollouts []string
	fn       func(Tx) error
	done     chan error // buffered: the writer never blocks on a caller that left
}

type groupCommitter struct {
	mu      sync.Mutex
	pending []*groupRequest
	wake    chan struct{} // capacity 1: "pending is not empty"

	// Observability for tests and metrics: transactions run and requests
	// they carried.
	txs, requests int64
}

func newGroupCommitter() *groupCommitter {
	return &groupCommitter{wake: make(chan struct{}, 1)}
}

// groupUpdate runs fn in a write transaction shared with the other pipeline
// writes queued at the same time, and returns once that transaction is
// committed (nil) or failed. items is fn's size in records, used to bound a
// group. fn may run more than once (alone, after a group failed because of
// another request), so it must reset what it accumulates, as Backend.Update
// already requires.
func (c *Core) groupUpdate(ctx context.Context, items int, rollouts []string, fn func(Tx) error) error {
	if c.closed.Load() {
		return ErrClosed
	}
	req := &groupRequest{ctx: ctx, items: items, rollouts: rollouts, fn: fn, done: make(chan error, 1)}
	g := c.group
	g.mu.Lock()
	g.pending = append(g.pending, req)
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stop:
		// Close waits for the writer, which answers whatever it took; a
		// request it never took is refused here.
		select {
		case err := <-req.done:
			return err
		default:
			return ErrClosed
		}
	}
}

// runGroupWriter is the writer goroutine; it stops with Close.
func (c *Core) runGroupWriter() {
	defer c.wg.Done()
	g := c.group
	for {
		select {
		case <-c.stop:
			for _, r := range g.take(-1) {
				r.done <- ErrClosed
			}
			return
		case <-g.wake:
		}
		for {
			batch := g.take(maxGroupItems)
			if len(batch) == 0 {
				break
			}
			c.commitGroup(batch)
		}
	}
}

// take removes the oldest pending requests up to limit items (at least one
// request; every request when limit < 0).
func (g *groupCommitter) take(limit int) []*groupRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	n, items := 0, 0
	for n < len(g.pending) {
		if limit >= 0 && n > 0 && items+g.pending[n].items > limit {
			break
		}
		items += g.pending[n].items
		n++
	}
	batch := append([]*groupRequest(nil), g.pending[:n]...)
	g.pending = append(g.pending[:0], g.pending[n:]...)
	return batch
}

// commitGroup runs the requests of one batch in one transaction. When one
// request's fn fails, the transaction rolls back; that request gets its
// error and the others are committed again without it, so bad input in one
// request never costs another's data.
func (c *Core) commitGroup(batch []*groupRequest) {
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- err // the caller left; it has not been answered success
			continue
		}
		live = append(live, r)
	}
	for len(live) > 0 {
		failed := -1
		locks := groupRollouts(live)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(live[0].ctx), groupTxTimeout)
		err := c.backend.Update(ctx, func(tx Tx) error {
			failed = -1
			// Where writers run concurrently (collectors sharing
			// PostgreSQL), two groups touching the same rollouts in
			// different orders would deadlock (and PostgreSQL takes its
			// deadlock_timeout, 1 s, to notice). Every group takes its
			// rollout locks first, in one global order.
			for _, id := range locks {
				if _, err := tx.GetRollout(id); err != nil {
					return err
				}
			}
			for i, r := range live {
				if err := r.fn(tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		cancel()
		c.group.mu.Lock()
		c.group.txs++
		c.group.requests += int64(len(live))
		c.group.mu.Unlock()
		if err == nil {
			c.broadcast()
			for _, r := range live {
				r.done <- nil
			}
			return
		}
		if failed < 0 || len(live) == 1 || IsTransient(err) || errors.Is(err, context.DeadlineExceeded) {
			// Begin or commit failed, or the database is unavailable: it
			// concerns every request alike, and each will be retried.
			for _, r := range live {
				r.done <- err
			}
			return
		}
		live[failed].done <- err
		live = append(live[:failed:failed], live[failed+1:]...)
	}
}

// groupRollouts merges the requests' rollout ids, sorted and unique.
func groupRollouts(reqs []*groupRequest) []string {
	var ids []string
	for _, r := range reqs {
		ids = append(ids, r.rollouts...)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// GroupStats reports how many group transactions ran and how many requests
// they committed or failed, for tests and telemetry.
func (c *Core) GroupStats() (transactions, requests int64) {
	c.group.mu.Lock()
	defer c.group.mu.Unlock()
	return c.group.txs, c.group.requests
}
