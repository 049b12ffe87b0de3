package store

import (
	"context"
	"slices"

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

// AddMessages stores chat records of LLM calls. A record without a
// sequence id (0) gets the next number of its rollout's messages, in the
// order given: chat records are numbered 1..n per rollout on their own and
// never take numbers from the span sequence, which stays 1..n over the
// spans. A record that carries one (the call span's
// agentlightning.span_sequence_id, from Agent Lightning's tracer) keeps it.
func (c *Core) AddMessages(ctx context.Context, msgs []model.MessageRecord) error {
	if len(msgs) == 0 {
		return nil
	}
	var rollouts []string
	for _, m := range msgs {
		if m.SequenceID == 0 {
			rollouts = append(rollouts, m.RolloutID)
		}
	}
	// Locking the rollouts (where they exist yet) serialises the numbering
	// with other collectors sharing the database.
	return c.groupUpdate(ctx, len(msgs), rollouts, func(tx Tx) error {
		numbered, err := numberMessages(tx, msgs)
		if err != nil {
			return err
		}
		return tx.InsertMessages(numbered)
	})
}

// numberMessages returns a copy of msgs whose zero sequence ids are
// allocated per rollout after the rollout's greatest one. It works on a
// copy because a group transaction may run its writes more than once.
func numberMessages(tx Tx, msgs []model.MessageRecord) ([]model.MessageRecord, error) {
	out := slices.Clone(msgs)
	next := map[string]int{}
	for i := range out {
		if out[i].SequenceID != 0 {
			continue
		}
		id := out[i].RolloutID
		n, ok := next[id]
		if !ok {
			top, err := tx.MaxMessageSequence(id)
			if err != nil {
				return nil, err
			}
			n = top
		}
		n++
		next[id] = n
		out[i].SequenceID = n
	}
	return out, nil
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
