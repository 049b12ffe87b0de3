package store

import (
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// rolloutStatusFor maps the latest attempt's status to the rollout's status
// (spec fact 4): failures become requeuing while retries remain.
func rolloutStatusFor(a *model.Attempt, cfg model.RolloutConfig) model.RolloutStatus {
	switch a.Status {
	case model.AttemptPreparing:
		return model.RolloutPreparing
	case model.AttemptRunning:
		return model.RolloutRunning
	case model.AttemptSucceeded:
		return model.RolloutSucceeded
	default:
		if cfg.Retries(a.Status) && a.SequenceID < cfg.MaxAttempts {
			return model.RolloutRequeuing
		}
		return model.RolloutFailed
	}
}

// setRolloutStatus applies a status with its side effects: queued statuses
// enqueue the rollout once, terminal statuses stamp end_time. The caller
// writes the rollout.
func (c *Core) setRolloutStatus(tx Tx, r *model.Rollout, s model.RolloutStatus) error {
	old := r.Status
	r.Status = s
	if s.Finished() {
		r.EndTime = model.Ptr(c.now())
	}
	if err := c.noteStatusChange(tx, r, old); err != nil {
		return err
	}
	if !s.Queued() {
		return nil
	}
	queued, err := tx.QueueContains(r.RolloutID)
	if err != nil || queued {
		return err
	}
	return tx.QueuePush(r.RolloutID)
}

// setAttemptStatus stamps end_time for the statuses that have one.
func (c *Core) setAttemptStatus(a *model.Attempt, s model.AttemptStatus) {
	a.Status = s
	if s == model.AttemptFailed || s == model.AttemptSucceeded {
		a.EndTime = model.Ptr(c.now())
	}
}

// propagate recomputes the rollout status from its latest attempt.
func (c *Core) propagate(tx Tx, r *model.Rollout, latest *model.Attempt) error {
	if err := c.setRolloutStatus(tx, r, rolloutStatusFor(latest, r.Config)); err != nil {
		return err
	}
	return tx.UpdateRollout(r)
}

// syncWorker mirrors an attempt's state onto its worker (spec §2.6),
// touching only the derived fields so heartbeat data survives.
func (c *Core) syncWorker(tx Tx, a *model.Attempt, dequeued bool) error {
	if a.WorkerID == nil || *a.WorkerID == "" {
		return nil
	}
	w, err := c.loadWorker(tx, *a.WorkerID)
	if err != nil {
		return err
	}
	now := c.now()
	switch a.Status {
	case model.AttemptSucceeded, model.AttemptFailed:
		w.Status = model.WorkerIdle
		w.LastIdleTime = &now
		w.CurrentRolloutID, w.CurrentAttemptID = nil, nil
	case model.AttemptTimeout, model.AttemptUnresponsive:
		w.Status = model.WorkerUnknown
		w.LastIdleTime = &now
		w.CurrentRolloutID, w.CurrentAttemptID = nil, nil
	default:
		w.Status = model.WorkerBusy
		w.LastBusyTime = &now
		w.CurrentRolloutID = model.Ptr(a.RolloutID)
		w.CurrentAttemptID = model.Ptr(a.AttemptID)
	}
	if dequeued {
		w.LastDequeueTime = &now
	}
	return tx.PutWorker(w)
}

// markIdleAfterEmptyDequeue records a dequeue that found no work.
func (c *Core) markIdleAfterEmptyDequeue(tx Tx, workerID string) error {
	w, err := c.loadWorker(tx, workerID)
	if err != nil {
		return err
	}
	now := c.now()
	if w.Status != model.WorkerIdle {
		w.Status = model.WorkerIdle
		w.LastIdleTime = &now
		w.CurrentRolloutID, w.CurrentAttemptID = nil, nil
	}
	w.LastDequeueTime = &now
	return tx.PutWorker(w)
}

func (c *Core) loadWorker(tx Tx, id string) (*model.Worker, error) {
	w, err := tx.GetWorker(id)
	if err != nil || w != nil {
		return w, err
	}
	return &model.Worker{WorkerID: id, Status: model.WorkerUnknown}, nil
}

// newAttempt creates the next attempt of r in preparing.
func (c *Core) newAttempt(tx Tx, r *model.Rollout, workerID *string) (*model.Attempt, error) {
	n, err := tx.CountAttempts(r.RolloutID)
	if err != nil {
		return nil, err
	}
	a := &model.Attempt{
		RolloutID:  r.RolloutID,
		AttemptID:  newAttemptID(),
		SequenceID: n + 1,
		StartTime:  c.now(),
		Status:     model.AttemptPreparing,
		WorkerID:   workerID,
		Metadata:   nil,
	}
	return a, tx.InsertAttempt(a)
}
