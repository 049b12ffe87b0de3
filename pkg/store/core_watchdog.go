package store

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// maybeScan runs the watchdog before an API call, at most once per
// ScanDebounce; among concurrent callers only one scans.
func (c *Core) maybeScan(ctx context.Context) {
	if c.closed.Load() {
		return
	}
	now := c.opts.Clock().UnixNano()
	last := c.lastScan.Load()
	if last >= 0 && c.opts.ScanDebounce > 0 && now-last < int64(c.opts.ScanDebounce) {
		return
	}
	if !c.scanning.CompareAndSwap(false, true) {
		return
	}
	defer c.scanning.Store(false)
	c.lastScan.Store(now)
	if err := c.Scan(ctx); err != nil {
		c.logger.Warn("watchdog scan failed", zap.Error(err))
	}
}

func (c *Core) runWatchdog(interval time.Duration) {
	defer c.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			if err := c.Scan(context.Background()); err != nil {
				c.logger.Warn("watchdog scan failed", zap.Error(err))
			}
		}
	}
}

// Scan marks attempts that exceeded timeout_seconds or went silent for
// unresponsive_seconds (spec §2.5) and propagates the result. It looks for
// candidates in a read transaction first, so a healthy store costs no write.
func (c *Core) Scan(ctx context.Context) error {
	var found bool
	err := c.view(ctx, func(tx Tx) error {
		unhealthy, err := c.findUnhealthy(tx)
		found = len(unhealthy) > 0
		return err
	})
	if err != nil || !found {
		return err
	}
	var events []AttemptEvent
	err = c.update(ctx, func(tx Tx) error {
		events = events[:0]
		if l, ok := tx.(ScanLocker); ok {
			if held, err := l.TryLockScan(); err != nil || !held {
				return err
			}
		}
		unhealthy, err := c.findUnhealthy(tx)
		if err != nil {
			return err
		}
		for _, a := range unhealthy {
			u := AttemptUpdate{Status: To(a.Status)}
			if _, err := c.updateAttempt(tx, a.RolloutID, a.AttemptID, u); err != nil {
				return err
			}
			events = append(events, AttemptEvent{RolloutID: a.RolloutID, AttemptID: a.AttemptID, Status: a.Status})
		}
		return nil
	})
	if err == nil {
		c.publish(events...)
	}
	return err
}

// findUnhealthy returns the latest attempts of active rollouts that must
// change, each carrying the status it must take.
func (c *Core) findUnhealthy(tx Tx) ([]model.Attempt, error) {
	rollouts, err := tx.WatchedRollouts()
	if err != nil || len(rollouts) == 0 {
		return nil, err
	}
	ids := make([]string, len(rollouts))
	for i := range rollouts {
		ids[i] = rollouts[i].RolloutID
	}
	latest, err := tx.LatestAttempts(ids)
	if err != nil {
		return nil, err
	}
	now := c.now()
	var out []model.Attempt
	for i := range rollouts {
		a := latest[rollouts[i].RolloutID]
		if a == nil {
			continue
		}
		if status, bad := unhealthyStatus(a, rollouts[i].Config, now); bad && status != a.Status {
			found := *a
			found.Status = status
			out = append(out, found)
		}
	}
	return out, nil
}

func unhealthyStatus(a *model.Attempt, cfg model.RolloutConfig, now float64) (model.AttemptStatus, bool) {
	if cfg.TimeoutSeconds != nil && now-a.StartTime > *cfg.TimeoutSeconds {
		return model.AttemptTimeout, true
	}
	if cfg.UnresponsiveSeconds == nil {
		return "", false
	}
	since := a.StartTime
	if a.LastHeartbeatTime != nil {
		since = *a.LastHeartbeatTime
	}
	if now-since > *cfg.UnresponsiveSeconds {
		return model.AttemptUnresponsive, true
	}
	return "", false
}
