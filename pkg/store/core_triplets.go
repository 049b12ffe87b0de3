package store

import (
	"context"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// ReplaceTriplets stores an attempt's triplets at a revision; older
// revisions than the stored one are ignored.
func (c *Core) ReplaceTriplets(ctx context.Context, rolloutID, attemptID string, revision int, triplets []model.TripletRecord) error {
	return c.groupUpdate(ctx, len(triplets), nil, func(tx Tx) error {
		_, err := tx.ReplaceTriplets(rolloutID, attemptID, revision, triplets)
		return err
	})
}

// QueryTriplets returns the triplets of an attempt in call order; attemptID
// may be LatestAttempt, or "" for every attempt of the rollout.
func (c *Core) QueryTriplets(ctx context.Context, rolloutID, attemptID string) ([]model.TripletRecord, error) {
	var out []model.TripletRecord
	err := c.view(ctx, func(tx Tx) error {
		id, ok, err := resolveAttempt(tx, rolloutID, attemptID)
		if err != nil || !ok {
			return err
		}
		out, err = tx.QueryTriplets(rolloutID, id)
		return err
	})
	if out == nil {
		out = []model.TripletRecord{}
	}
	return out, err
}

// AddMessages stores chat records of LLM calls.
func (c *Core) AddMessages(ctx context.Context, msgs []model.MessageRecord) error {
	if len(msgs) == 0 {
		return nil
	}
	return c.groupUpdate(ctx, len(msgs), nil, func(tx Tx) error { return tx.InsertMessages(msgs) })
}

// QueryMessages returns the chat records of an attempt in call order;
// attemptID may be LatestAttempt, or "" for every attempt.
func (c *Core) QueryMessages(ctx context.Context, rolloutID, attemptID string) ([]model.MessageRecord, error) {
	var out []model.MessageRecord
	err := c.view(ctx, func(tx Tx) error {
		id, ok, err := resolveAttempt(tx, rolloutID, attemptID)
		if err != nil || !ok {
			return err
		}
		out, err = tx.QueryMessages(rolloutID, id)
		return err
	})
	if out == nil {
		out = []model.MessageRecord{}
	}
	return out, err
}

// resolveAttempt turns LatestAttempt into an id; ok is false when the
// rollout has no attempt.
func resolveAttempt(tx Tx, rolloutID, attemptID string) (string, bool, error) {
	if attemptID != LatestAttempt {
		return attemptID, true, nil
	}
	latest, err := tx.LatestAttempts([]string{rolloutID})
	if err != nil || latest[rolloutID] == nil {
		return "", false, err
	}
	return latest[rolloutID].AttemptID, true, nil
}
