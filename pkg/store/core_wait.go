package store

import (
	"context"
	"time"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// WaitForRollouts returns the finished rollouts among ids once all are
// finished or the timeout passes (timeout < 0: until ctx ends; 0: no wait).
// It holds no lock while waiting: it re-reads on every change made through
// this Core and at least every WaitPollInterval for changes made elsewhere.
func (c *Core) WaitForRollouts(ctx context.Context, ids []string, timeout float64) ([]model.Rollout, error) {
	c.maybeScan(ctx)
	var deadline <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(time.Duration(timeout * float64(time.Second)))
		defer t.Stop()
		deadline = t.C
	}
	for {
		changed := c.changed()
		done, pending, err := c.finishedRollouts(ctx, ids)
		if err != nil || pending == 0 || timeout == 0 {
			return done, err
		}
		poll := time.NewTimer(c.opts.WaitPollInterval)
		select {
		case <-ctx.Done():
			poll.Stop()
			return done, ctx.Err()
		case <-deadline:
			poll.Stop()
			done, _, err = c.finishedRollouts(ctx, ids)
			return done, err
		case <-changed:
		case <-poll.C:
		}
		poll.Stop()
	}
}

// finishedRollouts reads ids and splits them into finished rollouts and
// the number still pending; unknown ids count as neither.
func (c *Core) finishedRollouts(ctx context.Context, ids []string) ([]model.Rollout, int, error) {
	done := []model.Rollout{}
	pending := 0
	err := c.view(ctx, func(tx Tx) error {
		for _, id := range ids {
			r, err := tx.GetRollout(id)
			if err != nil {
				return err
			}
			switch {
			case r == nil:
			case r.Status.Finished():
				done = append(done, *r)
			default:
				pending++
			}
		}
		return nil
	})
	return done, pending, err
}
