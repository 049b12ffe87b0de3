package store

import (
	"context"
	"encoding/json"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// UpdateWorker records a worker heartbeat, creating the worker if needed.
// Only last_heartbeat_time and, when given, heartbeat_stats change.
func (c *Core) UpdateWorker(ctx context.Context, workerID string, heartbeatStats json.RawMessage) (*model.Worker, error) {
	if string(heartbeatStats) == "null" {
		return nil, &Error{Type: "TypeError", Message: "heartbeat_stats cannot be None"}
	}
	var out *model.Worker
	err := c.update(ctx, func(tx Tx) error {
		w, err := c.loadWorker(tx, workerID)
		if err != nil {
			return err
		}
		w.LastHeartbeatTime = model.Ptr(c.now())
		if heartbeatStats != nil {
			w.HeartbeatStats = append(json.RawMessage(nil), heartbeatStats...)
		}
		out = w
		return tx.PutWorker(w)
	})
	return out, err
}

// GetWorker returns a worker by id, or nil.
func (c *Core) GetWorker(ctx context.Context, workerID string) (*model.Worker, error) {
	var out *model.Worker
	err := c.view(ctx, func(tx Tx) error {
		var err error
		out, err = tx.GetWorker(workerID)
		return err
	})
	return out, err
}
