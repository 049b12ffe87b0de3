package store

import (
	"context"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// QueryAttempts lists a rollout's attempts; an unknown rollout gives an
// empty page.
func (c *Core) QueryAttempts(ctx context.Context, q AttemptQuery) (model.Paginated[model.Attempt], error) {
	c.maybeScan(ctx)
	if err := validatePage(q.Page, attemptFields); err != nil {
		return model.Paginated[model.Attempt]{}, err
	}
	var items []model.Attempt
	var total int
	err := c.view(ctx, func(tx Tx) error {
		var err error
		items, total, err = tx.QueryAttempts(q.RolloutID, q.Page)
		return err
	})
	return paginated(items, total, q.Page), err
}

// GetLatestAttempt returns the attempt with the highest sequence id, or nil.
func (c *Core) GetLatestAttempt(ctx context.Context, rolloutID string) (*model.Attempt, error) {
	c.maybeScan(ctx)
	var out *model.Attempt
	err := c.view(ctx, func(tx Tx) error {
		latest, err := tx.LatestAttempts([]string{rolloutID})
		out = latest[rolloutID]
		return err
	})
	return out, err
}

// UpdateAttempt changes the supplied fields of an attempt (attemptID may be
// LatestAttempt). Updating the latest attempt recomputes the rollout status.
func (c *Core) UpdateAttempt(ctx context.Context, rolloutID, attemptID string, u AttemptUpdate) (*model.Attempt, error) {
	c.maybeScan(ctx)
	for field, null := range map[string]bool{
		"status":              u.Status.Set && u.Status.Value == nil,
		"worker_id":           u.WorkerID.Set && u.WorkerID.Value == nil,
		"last_heartbeat_time": u.LastHeartbeatTime.Set && u.LastHeartbeatTime.Value == nil,
		"metadata":            u.Metadata.Set && u.Metadata.Value == nil,
	} {
		if null {
			return nil, invalid("%s is invalid; it cannot be a null value.", field)
		}
	}
	if u.Status.Value != nil && !u.Status.Value.Valid() {
		return nil, invalid("Invalid attempt status: %s", *u.Status.Value)
	}
	var out *model.Attempt
	err := c.update(ctx, func(tx Tx) error {
		var err error
		out, err = c.updateAttempt(tx, rolloutID, attemptID, u)
		return err
	})
	if err == nil && u.Status.Set {
		c.publish(AttemptEvent{RolloutID: out.RolloutID, AttemptID: out.AttemptID, Status: out.Status})
	}
	return out, err
}

func (c *Core) updateAttempt(tx Tx, rolloutID, attemptID string, u AttemptUpdate) (*model.Attempt, error) {
	r, err := tx.GetRollout(rolloutID)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, valueError("Rollout %s not found", rolloutID)
	}
	if u.Status.Set {
		if err := c.refuseV1Owned(tx, r); err != nil {
			return nil, err
		}
	}
	latestByID, err := tx.LatestAttempts([]string{rolloutID})
	if err != nil {
		return nil, err
	}
	latest := latestByID[rolloutID]
	if latest == nil {
		return nil, valueError("No attempts found for rollout %s", rolloutID)
	}
	a := latest
	if attemptID != LatestAttempt && attemptID != latest.AttemptID {
		if a, err = tx.GetAttempt(rolloutID, attemptID); err != nil {
			return nil, err
		}
		if a == nil {
			return nil, valueError("Attempt %s not found for rollout %s", attemptID, rolloutID)
		}
	}
	c.applyAttemptUpdate(a, u)
	if err := tx.UpdateAttempt(a); err != nil {
		return nil, err
	}
	if a.AttemptID == latest.AttemptID {
		if err := c.propagate(tx, r, a); err != nil {
			return nil, err
		}
	}
	workerGiven := u.WorkerID.Set && u.WorkerID.Value != nil && *u.WorkerID.Value != ""
	if workerGiven || (u.Status.Set && a.WorkerID != nil) {
		if err := c.syncWorker(tx, a, false); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (c *Core) applyAttemptUpdate(a *model.Attempt, u AttemptUpdate) {
	if u.Status.Set {
		c.setAttemptStatus(a, *u.Status.Value)
	}
	if u.WorkerID.Set {
		a.WorkerID = u.WorkerID.Value
	}
	if u.LastHeartbeatTime.Set {
		a.LastHeartbeatTime = u.LastHeartbeatTime.Value
	}
	if u.Metadata.Set {
		a.Metadata = nil
		if u.Metadata.Value != nil {
			a.Metadata = *u.Metadata.Value
		}
	}
}
