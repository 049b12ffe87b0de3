package store

import (
	"context"
	"encoding/json"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// latestResourcesID is the id rollouts are stamped with when the caller
// gives none.
func latestResourcesID(tx Tx) (*string, error) {
	r, err := tx.LatestResources()
	if err != nil || r == nil {
		return nil, err
	}
	return model.Ptr(r.ResourcesID), nil
}

func (c *Core) newRollout(tx Tx, input json.RawMessage, mode *model.RolloutMode, resourcesID *string, cfg *model.RolloutConfig, metadata json.RawMessage, status model.RolloutStatus) (*model.Rollout, error) {
	if err := checkDocsDepth(map[string]*json.RawMessage{"input": &input, "metadata": &metadata}); err != nil {
		return nil, err
	}
	if resourcesID == nil {
		var err error
		if resourcesID, err = latestResourcesID(tx); err != nil {
			return nil, err
		}
	}
	r := &model.Rollout{
		RolloutID:   newRolloutID(),
		Input:       model.RawOrNull(input),
		StartTime:   c.now(),
		Mode:        mode,
		ResourcesID: resourcesID,
		Status:      status,
		Config:      cloneConfig(cfg),
		Metadata:    jsonOrEmptyObject(metadata),
	}
	return r, tx.InsertRollout(r)
}

// StartRollout creates a rollout in preparing with its first attempt,
// bypassing the queue.
func (c *Core) StartRollout(ctx context.Context, req StartRolloutRequest) (*model.Rollout, error) {
	c.maybeScan(ctx)
	var out *model.Rollout
	err := c.update(ctx, func(tx Tx) error {
		r, err := c.newRollout(tx, req.Input, req.Mode, req.ResourcesID, req.Config, req.Metadata, model.RolloutPreparing)
		if err != nil {
			return err
		}
		a, err := c.newAttempt(tx, r, req.WorkerID)
		if err != nil {
			return err
		}
		if err := c.syncWorker(tx, a, false); err != nil {
			return err
		}
		r.Attempt = a
		out = r
		return nil
	})
	return out, err
}

// EnqueueRollouts creates rollouts in queuing, appended to the queue in
// request order.
func (c *Core) EnqueueRollouts(ctx context.Context, reqs []model.EnqueueRolloutRequest) ([]model.Rollout, error) {
	c.maybeScan(ctx)
	out := make([]model.Rollout, 0, len(reqs))
	err := c.update(ctx, func(tx Tx) error {
		// A backend may run this function again after a conflict.
		out = out[:0]
		latest, err := latestResourcesID(tx)
		if err != nil {
			return err
		}
		ids := make([]string, 0, len(reqs))
		for _, req := range reqs {
			rid := req.ResourcesID
			if rid == nil {
				rid = latest
			}
			r, err := c.newRollout(tx, req.Input, req.Mode, rid, req.Config, req.Metadata, model.RolloutQueuing)
			if err != nil {
				return err
			}
			ids = append(ids, r.RolloutID)
			out = append(out, *r)
		}
		return tx.QueuePush(ids...)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DequeueRollouts claims up to limit queued rollouts in FIFO order, skipping
// ids whose rollout is no longer queued. It never blocks.
func (c *Core) DequeueRollouts(ctx context.Context, limit int, workerID *string) ([]model.Rollout, error) {
	c.maybeScan(ctx)
	if limit <= 0 {
		return []model.Rollout{}, nil
	}
	var out []model.Rollout
	err := c.update(ctx, func(tx Tx) error {
		out = out[:0]
		var last *model.Attempt
		for len(out) < limit {
			ids, err := tx.QueuePop(limit - len(out))
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				break
			}
			for _, id := range ids {
				r, a, err := c.claim(tx, id, workerID)
				if err != nil {
					return err
				}
				if r != nil {
					out = append(out, *r)
					last = a
				}
			}
		}
		if workerID == nil {
			return nil
		}
		if last != nil {
			return c.syncWorker(tx, last, true)
		}
		return c.markIdleAfterEmptyDequeue(tx, *workerID)
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []model.Rollout{}
	}
	return out, nil
}

// claim turns a popped queue id into a new attempt, or nil when the
// rollout is gone or no longer waiting.
func (c *Core) claim(tx Tx, id string, workerID *string) (*model.Rollout, *model.Attempt, error) {
	r, err := tx.GetRollout(id)
	if err != nil || r == nil || !r.Status.Queued() {
		return nil, nil, err
	}
	a, err := c.newAttempt(tx, r, workerID)
	if err != nil {
		return nil, nil, err
	}
	old := r.Status
	r.Status = model.RolloutPreparing
	if err := c.noteStatusChange(tx, r, old); err != nil {
		return nil, nil, err
	}
	if err := tx.UpdateRollout(r); err != nil {
		return nil, nil, err
	}
	r.Attempt = a
	return r, a, nil
}

// StartAttempt adds an attempt to any rollout, whatever its status and
// max_attempts, and moves the rollout to preparing.
func (c *Core) StartAttempt(ctx context.Context, rolloutID string, workerID *string) (*model.Rollout, error) {
	c.maybeScan(ctx)
	var out *model.Rollout
	err := c.update(ctx, func(tx Tx) error {
		r, err := tx.GetRollout(rolloutID)
		if err != nil {
			return err
		}
		if r == nil {
			return valueError("Rollout %s not found", rolloutID)
		}
		if err := c.refuseV1Owned(tx, r); err != nil {
			return err
		}
		a, err := c.newAttempt(tx, r, workerID)
		if err != nil {
			return err
		}
		old := r.Status
		r.Status = model.RolloutPreparing
		if err := c.noteStatusChange(tx, r, old); err != nil {
			return err
		}
		if err := tx.UpdateRollout(r); err != nil {
			return err
		}
		if err := c.syncWorker(tx, a, false); err != nil {
			return err
		}
		r.Attempt = a
		out = r
		return nil
	})
	return out, err
}

// GetRollout returns the rollout with its latest attempt, or nil.
func (c *Core) GetRollout(ctx context.Context, rolloutID string) (*model.Rollout, error) {
	c.maybeScan(ctx)
	var out *model.Rollout
	err := c.view(ctx, func(tx Tx) error {
		r, err := tx.GetRollout(rolloutID)
		if err != nil || r == nil {
			return err
		}
		latest, err := tx.LatestAttempts([]string{rolloutID})
		if err != nil {
			return err
		}
		r.Attempt = latest[rolloutID]
		out = r
		return nil
	})
	return out, err
}

// UpdateRollout changes the supplied fields; a status change has the usual
// side effects (enqueue, end time) but no guard on the transition.
func (c *Core) UpdateRollout(ctx context.Context, rolloutID string, u RolloutUpdate) (*model.Rollout, error) {
	c.maybeScan(ctx)
	if u.Status.Set && u.Status.Value == nil {
		return nil, invalid("status is invalid; it cannot be a null value.")
	}
	if err := checkDocsDepth(map[string]*json.RawMessage{"input": u.Input.Value, "metadata": u.Metadata.Value}); err != nil {
		return nil, err
	}
	if u.Config.Set && u.Config.Value == nil {
		return nil, invalid("config is invalid; it cannot be a null value.")
	}
	if u.Status.Value != nil && !u.Status.Value.Valid() {
		return nil, invalid("Invalid rollout status: %s", *u.Status.Value)
	}
	if u.Mode.Value != nil && !u.Mode.Value.Valid() {
		return nil, invalid("Invalid rollout mode: %s", *u.Mode.Value)
	}
	var out *model.Rollout
	err := c.update(ctx, func(tx Tx) error {
		r, err := tx.GetRollout(rolloutID)
		if err != nil {
			return err
		}
		if r == nil {
			return valueError("Item does not exist with primary key(s): rollout_id='%s'", rolloutID)
		}
		if u.Status.Set {
			if err := c.refuseV1Owned(tx, r); err != nil {
				return err
			}
		}
		applyRolloutUpdate(r, u)
		if u.Status.Set {
			if err := c.setRolloutStatus(tx, r, *u.Status.Value); err != nil {
				return err
			}
		}
		out = r
		return tx.UpdateRollout(r)
	})
	return out, err
}

func applyRolloutUpdate(r *model.Rollout, u RolloutUpdate) {
	if u.Input.Set {
		r.Input = json.RawMessage("null")
		if u.Input.Value != nil {
			r.Input = model.RawOrNull(*u.Input.Value)
		}
	}
	if u.Mode.Set {
		r.Mode = u.Mode.Value
	}
	if u.ResourcesID.Set {
		r.ResourcesID = u.ResourcesID.Value
	}
	if u.Config.Set {
		r.Config = cloneConfig(u.Config.Value)
	}
	if u.Metadata.Set {
		r.Metadata = nil
		if u.Metadata.Value != nil {
			r.Metadata = *u.Metadata.Value
		}
	}
}
