package store

import (
	"context"
	"encoding/json"

	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// NextSequenceIDs allocates span sequence ids. The counter is per rollout
// (the attempt is ignored) and nothing is validated, so the LLM proxy can
// allocate before the store has seen the rollout. For each rollout one
// increment covers all its requests; values are handed out in request order.
func (c *Core) NextSequenceIDs(ctx context.Context, keys []SequenceKey) ([]int, error) {
	out := make([]int, len(keys))
	err := c.update(ctx, func(tx Tx) error {
		return allocateSequenceIDs(tx, keys, out)
	})
	return out, err
}

func allocateSequenceIDs(tx Tx, keys []SequenceKey, out []int) error {
	counts := map[string]int{}
	var order []string
	for _, k := range keys {
		if counts[k.RolloutID] == 0 {
			order = append(order, k.RolloutID)
		}
		counts[k.RolloutID]++
	}
	next := make(map[string]int, len(order))
	for _, id := range order {
		top, err := tx.SeqIncrement(id, counts[id])
		if err != nil {
			return err
		}
		next[id] = top - counts[id] + 1
	}
	for i, k := range keys {
		out[i] = next[k.RolloutID]
		next[k.RolloutID]++
	}
	return nil
}

// AddSpan stores one span; a duplicate (rollout, attempt, span id) returns
// nil without error. The counter is raised before validation, as in Agent
// Lightning, so an explicit sequence id is never reissued.
func (c *Core) AddSpan(ctx context.Context, span model.Span) (*model.Span, error) {
	stored, err := c.addSpanGroup(ctx, []model.Span{span})
	if err != nil || len(stored) == 0 {
		return nil, err
	}
	return &stored[0], nil
}

// AddSpans stores spans grouped by (rollout, attempt) in order of first
// appearance; a failing group stops the call but earlier groups stay.
func (c *Core) AddSpans(ctx context.Context, spans []model.Span) ([]model.Span, error) {
	type key struct{ rollout, attempt string }
	groups := map[key][]model.Span{}
	var order []key
	for _, s := range spans {
		k := key{s.RolloutID, s.AttemptID}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], s)
	}
	out := []model.Span{}
	for _, k := range order {
		stored, err := c.addSpanGroup(ctx, groups[k])
		out = append(out, stored...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// addSpanGroup stores spans of one (rollout, attempt).
func (c *Core) addSpanGroup(ctx context.Context, spans []model.Span) ([]model.Span, error) {
	for i := range spans {
		if err := checkSpanDepth(&spans[i]); err != nil {
			return nil, err
		}
	}
	rolloutID, attemptID := spans[0].RolloutID, spans[0].AttemptID
	maxSeq := 0
	for _, s := range spans {
		maxSeq = max(maxSeq, s.SequenceID)
	}
	if err := c.update(ctx, func(tx Tx) error { return tx.SeqRaise(rolloutID, maxSeq) }); err != nil {
		return nil, err
	}
	var stored []model.Span
	err := c.update(ctx, func(tx Tx) error {
		stored = stored[:0]
		r, a, err := findRolloutAttempt(tx, rolloutID, attemptID)
		if err != nil {
			return err
		}
		ok, err := tx.InsertSpans(spans)
		if err != nil {
			return err
		}
		for i, inserted := range ok {
			if inserted {
				stored = append(stored, spans[i])
			} else {
				c.logger.Warn("Duplicated span added", zap.String("rollout_id", rolloutID), zap.String("attempt_id", attemptID), zap.String("span_id", spans[i].SpanID))
			}
		}
		if len(stored) == 0 {
			return nil
		}
		return c.heartbeat(tx, r, a)
	})
	if err == nil {
		c.publishSpans(stored)
	}
	return stored, err
}

func findRolloutAttempt(tx Tx, rolloutID, attemptID string) (*model.Rollout, *model.Attempt, error) {
	r, err := tx.GetRollout(rolloutID)
	if err != nil {
		return nil, nil, err
	}
	if r == nil {
		return nil, nil, valueError("Rollout %s not found", rolloutID)
	}
	a, err := tx.GetAttempt(rolloutID, attemptID)
	if err != nil {
		return nil, nil, err
	}
	if a == nil {
		return nil, nil, valueError("Attempt %s not found for rollout %s", attemptID, rolloutID)
	}
	return r, a, nil
}

// heartbeat applies spec fact 3: a stored span refreshes the attempt's
// heartbeat and wakes it; the rollout follows only from preparing or
// requeuing, and only for its latest attempt.
func (c *Core) heartbeat(tx Tx, r *model.Rollout, a *model.Attempt) error {
	a.LastHeartbeatTime = model.Ptr(c.now())
	if a.Status == model.AttemptPreparing || a.Status == model.AttemptUnresponsive {
		a.Status = model.AttemptRunning
	}
	if err := tx.UpdateAttempt(a); err != nil {
		return err
	}
	if r.Status != model.RolloutPreparing && r.Status != model.RolloutRequeuing {
		return nil
	}
	latest, err := tx.LatestAttempts([]string{r.RolloutID})
	if err != nil {
		return err
	}
	if l := latest[r.RolloutID]; l == nil || l.AttemptID != a.AttemptID {
		return nil
	}
	old := r.Status
	r.Status = model.RolloutRunning
	if err := c.noteStatusChange(tx, r, old); err != nil {
		return err
	}
	return tx.UpdateRollout(r)
}

// IngestSpans stores an OTLP batch in one transaction: missing sequence ids
// are allocated in arrival order, unknown rollouts are created when the item
// allows it and rejected otherwise, duplicates are counted, and each touched
// attempt gets one heartbeat.
func (c *Core) IngestSpans(ctx context.Context, items []IngestItem) (IngestResult, error) {
	var res IngestResult
	// The group sorts and dedups the rollouts it locks (groupRollouts).
	rollouts := make([]string, len(items))
	for i, it := range items {
		rollouts[i] = it.Span.RolloutID
	}
	err := c.groupUpdate(ctx, len(items), rollouts, func(tx Tx) error {
		var err error
		res, err = c.ingest(tx, items)
		return err
	})
	if err == nil {
		// Before the caller answers its client: whoever follows stored spans
		// (the triplet processor) knows of them before a runner can mark the
		// attempt finished.
		c.publishSpans(res.Stored)
	}
	return res, err
}

type attemptKey struct{ rollout, attempt string }

type ingestBatch struct {
	core     *Core
	tx       Tx
	rollouts map[string]*model.Rollout
	attempts map[attemptKey]*model.Attempt
	touched  []attemptKey
}

func (c *Core) ingest(tx Tx, items []IngestItem) (IngestResult, error) {
	b := &ingestBatch{core: c, tx: tx, rollouts: map[string]*model.Rollout{}, attempts: map[attemptKey]*model.Attempt{}}
	res := IngestResult{Stored: []model.Span{}}
	accepted := make([]model.Span, 0, len(items))
	for i, it := range items {
		if err := checkSpanDepth(&it.Span); err != nil {
			res.Rejected = append(res.Rejected, Rejection{Index: i, Err: err})
			continue
		}
		if err := b.resolve(it); err != nil {
			if _, ok := err.(*Error); !ok {
				return res, err
			}
			res.Rejected = append(res.Rejected, Rejection{Index: i, Err: err})
			continue
		}
		accepted = append(accepted, it.Span)
	}
	if err := b.assignSequenceIDs(accepted); err != nil {
		return res, err
	}
	ok, err := tx.InsertSpans(accepted)
	if err != nil {
		return res, err
	}
	beat := map[attemptKey]bool{}
	for i, inserted := range ok {
		if !inserted {
			res.Duplicates++
			continue
		}
		res.Stored = append(res.Stored, accepted[i])
		beat[attemptKey{accepted[i].RolloutID, accepted[i].AttemptID}] = true
	}
	for _, k := range b.touched {
		if beat[k] {
			if err := c.heartbeat(tx, b.rollouts[k.rollout], b.attempts[k]); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// resolve makes sure the item's rollout and attempt exist, creating them
// when the item carries CreateMetadata.
func (b *ingestBatch) resolve(it IngestItem) error {
	k := attemptKey{it.Span.RolloutID, it.Span.AttemptID}
	if _, ok := b.attempts[k]; ok {
		return nil
	}
	r, err := b.rollout(k.rollout, it.CreateMetadata)
	if err != nil {
		return err
	}
	a, err := b.tx.GetAttempt(k.rollout, k.attempt)
	if err != nil {
		return err
	}
	if a == nil {
		if it.CreateMetadata == nil {
			return valueError("Attempt %s not found for rollout %s", k.attempt, k.rollout)
		}
		if a, err = b.createAttempt(r, k.attempt); err != nil {
			return err
		}
	}
	b.attempts[k] = a
	b.touched = append(b.touched, k)
	return nil
}

func (b *ingestBatch) rollout(id string, create json.RawMessage) (*model.Rollout, error) {
	if r, ok := b.rollouts[id]; ok {
		return r, nil
	}
	r, err := b.tx.GetRollout(id)
	if err != nil {
		return nil, err
	}
	if r == nil {
		if create == nil {
			return nil, valueError("Rollout %s not found", id)
		}
		resourcesID, err := latestResourcesID(b.tx)
		if err != nil {
			return nil, err
		}
		r = &model.Rollout{
			RolloutID: id, Input: json.RawMessage("null"), StartTime: b.core.now(), ResourcesID: resourcesID,
			Status: model.RolloutRunning, Config: model.DefaultRolloutConfig(), Metadata: jsonOrEmptyObject(create),
		}
		if err := b.tx.InsertRollout(r); err != nil {
			return nil, err
		}
	}
	b.rollouts[id] = r
	return r, nil
}

// createAttempt adds an attempt the store did not know, already running
// since its spans are arriving.
func (b *ingestBatch) createAttempt(r *model.Rollout, attemptID string) (*model.Attempt, error) {
	n, err := b.tx.CountAttempts(r.RolloutID)
	if err != nil {
		return nil, err
	}
	a := &model.Attempt{
		RolloutID: r.RolloutID, AttemptID: attemptID, SequenceID: n + 1,
		StartTime: b.core.now(), Status: model.AttemptRunning,
	}
	if err := b.tx.InsertAttempt(a); err != nil {
		return nil, err
	}
	if r.Status == model.RolloutRunning || r.Status.Finished() {
		return a, nil
	}
	// A v1-owned rollout's state is its controller's to change (v1.0's
	// guard): spans arriving early do not start it.
	e, err := b.core.loadExt(b.tx, r)
	if err != nil || e.API == model.APIv1 {
		return a, err
	}
	old := r.Status
	r.Status = model.RolloutRunning
	if err := b.core.noteStatusChange(b.tx, r, old); err != nil {
		return nil, err
	}
	return a, b.tx.UpdateRollout(r)
}

// assignSequenceIDs allocates ids for spans without one (arrival order),
// then raises each rollout's counter past the explicit ones.
func (b *ingestBatch) assignSequenceIDs(spans []model.Span) error {
	var keys []SequenceKey
	var idx []int
	explicit := map[string]int{}
	for i, s := range spans {
		if s.SequenceID <= 0 {
			keys = append(keys, SequenceKey{RolloutID: s.RolloutID, AttemptID: s.AttemptID})
			idx = append(idx, i)
		} else {
			explicit[s.RolloutID] = max(explicit[s.RolloutID], s.SequenceID)
		}
	}
	ids := make([]int, len(keys))
	if err := allocateSequenceIDs(b.tx, keys, ids); err != nil {
		return err
	}
	for j, i := range idx {
		spans[i].SequenceID = ids[j]
	}
	for id, v := range explicit {
		if err := b.tx.SeqRaise(id, v); err != nil {
			return err
		}
	}
	return nil
}
