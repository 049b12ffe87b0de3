package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/llmmodels"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// Agent Lightning v1.0's view of the store. A rollout belongs to the API
// that created it (RolloutExt.API): its own API drives its lifecycle, the
// other sees a projection (reference §9). The completion log and
// status.version are kept for rollouts of both APIs.

// ErrRolloutNotFound is returned by the v1 methods for an unknown rollout.
var ErrRolloutNotFound = errors.New("rollout not found")

// TransitionError is a state change v1.0's guard refuses (409).
type TransitionError struct{ Message string }

func (e *TransitionError) Error() string { return e.Message }

// V1Create is one element of POST /api/rollouts, already validated.
type V1Create struct {
	// RolloutID is the caller's id; nil asks for a new one.
	RolloutID *string
	Input     json.RawMessage
	IsTrain   bool
	// Config is v1.0's RolloutConfig with its defaults filled in.
	Config json.RawMessage
	// Metadata is v1.0's RolloutMetadata, an object.
	Metadata json.RawMessage
}

// V1StatusPatch is the status of PATCH /api/rollouts/{id}. State with Set
// and a nil Value is an explicit null (always refused, as in v1.0).
type V1StatusPatch struct {
	State         Patch[string]
	K8sJobName    Patch[string]
	LastAttemptID Patch[string]
	ErrorMessage  Patch[string]
}

func (p V1StatusPatch) empty() bool {
	return !p.State.Set && !p.K8sJobName.Set && !p.LastAttemptID.Set && !p.ErrorMessage.Set
}

// defaultV1Attempt is the attempt id v1.0's controllers always use.
const defaultV1Attempt = "0"

// CreateV1Rollouts creates rollouts owned by the v1 API, in queuing but not
// in v0.3's queue (a v0.3 worker never dequeues them). A rollout whose id
// exists already is returned as stored, unchanged.
func (c *Core) CreateV1Rollouts(ctx context.Context, reqs []V1Create) ([]model.V1Rollout, error) {
	var out []model.V1Rollout
	err := c.update(ctx, func(tx Tx) error {
		out = make([]model.V1Rollout, 0, len(reqs))
		for _, req := range reqs {
			id := newID("", 32)
			if req.RolloutID != nil {
				id = *req.RolloutID
			}
			r, err := tx.GetRollout(id)
			if err != nil {
				return err
			}
			if r != nil {
				v, err := c.v1View(tx, r)
				if err != nil {
					return err
				}
				out = append(out, v)
				continue
			}
			mode := model.RolloutMode("val")
			if req.IsTrain {
				mode = "train"
			}
			now := c.now()
			r = &model.Rollout{
				RolloutID: id,
				Input:     model.RawOrNull(req.Input),
				StartTime: now,
				Mode:      &mode,
				Status:    model.RolloutQueuing,
				Config:    model.DefaultRolloutConfig(),
				Metadata:  jsonOrEmptyObject(req.Metadata),
			}
			if r.ResourcesID, err = latestResourcesID(tx); err != nil {
				return err
			}
			if err := tx.InsertRollout(r); err != nil {
				return err
			}
			e := &model.RolloutExt{RolloutID: id, API: model.APIv1, Version: 1, CreatedAt: now, UpdatedAt: now,
				IsTrain: req.IsTrain, Config: req.Config}
			if err := tx.PutRolloutExt(e); err != nil {
				return err
			}
			out = append(out, projectV1(r, e, nil))
		}
		return nil
	})
	return out, err
}

// V1Rollouts lists the v1-owned rollouts in the given states, in creation
// order. Rollouts of the v0.3 API are never listed: a v1 controller would
// spawn them. A negative limit drops the last -limit matches, as v1.0's
// Python slice [:limit] does.
func (c *Core) V1Rollouts(ctx context.Context, states []string, limit int) ([]model.V1Rollout, error) {
	var out []model.V1Rollout
	err := c.view(ctx, func(tx Tx) error {
		n := limit
		if n < 0 {
			n = -1
		}
		rs, err := tx.V1Rollouts(states, n)
		if err != nil {
			return err
		}
		if limit < 0 {
			rs = rs[:max(len(rs)+limit, 0)]
		}
		out = make([]model.V1Rollout, 0, len(rs))
		for i := range rs {
			v, err := c.v1View(tx, &rs[i])
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return nil
	})
	return out, err
}

// V1Rollout returns a rollout as v1.0 shows it, with the attempt ids that
// have spans (in order of their first span), or ErrRolloutNotFound.
func (c *Core) V1Rollout(ctx context.Context, rolloutID string) (*model.V1Rollout, []string, error) {
	var (
		out      model.V1Rollout
		attempts []string
	)
	err := c.view(ctx, func(tx Tx) error {
		r, err := tx.GetRollout(rolloutID)
		if err != nil {
			return err
		}
		if r == nil {
			return ErrRolloutNotFound
		}
		if out, err = c.v1View(tx, r); err != nil {
			return err
		}
		attempts, err = tx.SpanAttempts(rolloutID)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return &out, attempts, nil
}

// PatchV1Rollout applies v1.0's PATCH: only the fields present change; a
// state change must be one v1.0 allows, on a v1-owned rollout. Any change
// bumps status.version; an empty patch changes nothing.
func (c *Core) PatchV1Rollout(ctx context.Context, rolloutID string, p V1StatusPatch) (*model.V1Rollout, error) {
	var (
		out     model.V1Rollout
		changed *model.Attempt // the attempt whose status followed the rollout's
	)
	err := c.update(ctx, func(tx Tx) error {
		changed = nil
		r, err := tx.GetRollout(rolloutID)
		if err != nil {
			return err
		}
		if r == nil {
			return ErrRolloutNotFound
		}
		if p.empty() {
			out, err = c.v1View(tx, r)
			return err
		}
		e, err := c.loadExt(tx, r)
		if err != nil {
			return err
		}
		if p.State.Set {
			if changed, err = c.v1Transition(tx, r, e, p); err != nil {
				return err
			}
			// setRolloutStatus bumped the stored version.
			if e, err = c.loadExt(tx, r); err != nil {
				return err
			}
		} else {
			e.Version++
		}
		e.UpdatedAt = c.now()
		applyPatch(&e.K8sJobName, p.K8sJobName)
		applyPatch(&e.LastAttemptID, p.LastAttemptID)
		applyPatch(&e.ErrorMessage, p.ErrorMessage)
		if err := tx.PutRolloutExt(e); err != nil {
			return err
		}
		latest, err := tx.LatestAttempts([]string{rolloutID})
		if err != nil {
			return err
		}
		out = projectV1(r, e, latest[rolloutID])
		return nil
	})
	if err != nil {
		return nil, err
	}
	if changed != nil {
		// The triplet processor builds an attempt's triplets when it ends.
		c.publish(AttemptEvent{RolloutID: changed.RolloutID, AttemptID: changed.AttemptID, Status: changed.Status})
	}
	return &out, nil
}

// v1Transition checks and applies a PATCHed state, with its attempt: the
// attempt the patch names (else the rollout's last, else "0") follows the
// rollout, so v0.3 clients see a synthetic attempt with the same status.
func (c *Core) v1Transition(tx Tx, r *model.Rollout, e *model.RolloutExt, p V1StatusPatch) (*model.Attempt, error) {
	from := v1State(r.Status)
	to := "None"
	if p.State.Value != nil {
		to = *p.State.Value
	}
	if e.API != model.APIv1 {
		return nil, &TransitionError{Message: fmt.Sprintf("Rollout %s: cannot transition %s -> %s (the rollout belongs to the v0.3 API)",
			r.RolloutID, from, to)}
	}
	if p.State.Value == nil || !model.V1Transition(from, to) {
		return nil, &TransitionError{Message: fmt.Sprintf("Rollout %s: cannot transition %s -> %s", r.RolloutID, from, to)}
	}
	if err := c.setRolloutStatus(tx, r, model.RolloutStatus(to)); err != nil {
		return nil, err
	}
	if err := tx.UpdateRollout(r); err != nil {
		return nil, err
	}
	aid := defaultV1Attempt
	if e.LastAttemptID != nil {
		aid = *e.LastAttemptID
	}
	if p.LastAttemptID.Set && p.LastAttemptID.Value != nil {
		aid = *p.LastAttemptID.Value
	}
	return c.ensureV1Attempt(tx, r, aid)
}

// ensureV1Attempt returns the attempt aid of a rollout, created when
// missing, with its status following the rollout's.
func (c *Core) ensureV1Attempt(tx Tx, r *model.Rollout, aid string) (*model.Attempt, error) {
	want := attemptStatusOf(r.Status)
	a, err := tx.GetAttempt(r.RolloutID, aid)
	if err != nil {
		return nil, err
	}
	if a == nil {
		n, err := tx.CountAttempts(r.RolloutID)
		if err != nil {
			return nil, err
		}
		a = &model.Attempt{RolloutID: r.RolloutID, AttemptID: aid, SequenceID: n + 1, StartTime: c.now()}
		c.setAttemptStatus(a, want)
		return a, tx.InsertAttempt(a)
	}
	if a.Status == want {
		return a, nil
	}
	c.setAttemptStatus(a, want)
	return a, tx.UpdateAttempt(a)
}

func attemptStatusOf(s model.RolloutStatus) model.AttemptStatus {
	switch s {
	case model.RolloutRunning:
		return model.AttemptRunning
	case model.RolloutSucceeded:
		return model.AttemptSucceeded
	case model.RolloutFailed, model.RolloutCancelled:
		return model.AttemptFailed
	default:
		return model.AttemptPreparing
	}
}

// DeleteRollout removes a rollout and everything filed under it; its
// completion log entries stay, as in v1.0. Deleting a missing rollout is
// not an error.
func (c *Core) DeleteRollout(ctx context.Context, rolloutID string) error {
	return c.update(ctx, func(tx Tx) error { return tx.DeleteRollout(rolloutID) })
}

// V1Terminal reads the completion cursor: the log positions after+1 ..
// after+limit, without the rollouts deleted since (they still count in
// NextAfter).
func (c *Core) V1Terminal(ctx context.Context, after, limit int) (model.V1TerminalPage, error) {
	after, limit = max(after, 0), max(limit, 1)
	page := model.V1TerminalPage{Items: []model.V1TerminalItem{}}
	err := c.view(ctx, func(tx Tx) error {
		ids, total, err := tx.TerminalLog(after, limit)
		if err != nil {
			return err
		}
		page.Items = page.Items[:0]
		page.NextAfter, page.TotalTerminal = after+len(ids), total
		for _, id := range ids {
			r, err := tx.GetRollout(id)
			if err != nil {
				return err
			}
			if r == nil {
				continue
			}
			v, err := c.v1View(tx, r)
			if err != nil {
				return err
			}
			page.Items = append(page.Items, model.V1TerminalItem{RolloutID: id, State: v.Status.State,
				DataID: dataID(r.Input), IsTrain: v.IsTrain})
		}
		return nil
	})
	return page, err
}

// dataID is v1.0's data_id: input.data_id, else input.instance_id, else "".
func dataID(input json.RawMessage) string {
	var in map[string]any
	if json.Unmarshal(input, &in) != nil {
		return ""
	}
	for _, k := range []string{"data_id", "instance_id"} {
		if v, ok := in[k]; ok && v != nil {
			if s, ok := v.(string); ok {
				return s
			}
			b, _ := json.Marshal(v)
			return string(b)
		}
	}
	return ""
}

// AddV1EventSpan stores the span an event posted through v1.0 became,
// under the attempt it names (created when missing, whatever the rollout's
// state, as v1.0 accepts events in any state). The store assigns its
// sequence id.
func (c *Core) AddV1EventSpan(ctx context.Context, span model.Span) (*model.Span, error) {
	var stored bool
	err := c.update(ctx, func(tx Tx) error {
		r, err := tx.GetRollout(span.RolloutID)
		if err != nil {
			return err
		}
		if r == nil {
			return ErrRolloutNotFound
		}
		if _, err := c.ensureV1Attempt(tx, r, span.AttemptID); err != nil {
			return err
		}
		if span.SequenceID, err = tx.SeqIncrement(span.RolloutID, 1); err != nil {
			return err
		}
		ok, err := tx.InsertSpans([]model.Span{span})
		if err != nil {
			return err
		}
		stored = ok[0]
		return nil
	})
	if err != nil {
		return nil, err
	}
	if stored {
		c.publishSpans([]model.Span{span})
	}
	return &span, nil
}

// PrepareV1Attempt makes sure the attempt an event names exists (created,
// whatever the rollout's state, as v1.0 accepts events in any state), or
// reports ErrRolloutNotFound, before the event's span goes through the
// traces pipeline.
func (c *Core) PrepareV1Attempt(ctx context.Context, rolloutID, attemptID string) error {
	return c.update(ctx, func(tx Tx) error {
		r, err := tx.GetRollout(rolloutID)
		if err != nil {
			return err
		}
		if r == nil {
			return ErrRolloutNotFound
		}
		_, err = c.ensureV1Attempt(tx, r, attemptID)
		return err
	})
}

// V1EventSpans returns the rollout as v1.0 shows it and the spans of the
// attempt v1.0 reads events from (status.last_attempt_id, else "0"), in
// sequence order.
func (c *Core) V1EventSpans(ctx context.Context, rolloutID string) (*model.V1Rollout, []model.Span, error) {
	var (
		v     model.V1Rollout
		spans []model.Span
	)
	err := c.view(ctx, func(tx Tx) error {
		r, err := tx.GetRollout(rolloutID)
		if err != nil {
			return err
		}
		if r == nil {
			return ErrRolloutNotFound
		}
		if v, err = c.v1View(tx, r); err != nil {
			return err
		}
		aid := defaultV1Attempt
		if v.Status.LastAttemptID != nil {
			aid = *v.Status.LastAttemptID
		}
		f := Filter{Must: []Cond{
			{Field: "rollout_id", Op: OpExact, Value: rolloutID},
			{Field: "attempt_id", Op: OpExact, Value: aid},
		}}
		spans, _, err = tx.QuerySpans(f, Page{Limit: -1})
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return &v, spans, nil
}

var _ llmmodels.Registry = (*Core)(nil)

// UpsertModels registers models, keyed by (Name, Endpoint).
func (c *Core) UpsertModels(ctx context.Context, models []llmmodels.Model) error {
	return c.update(ctx, func(tx Tx) error { return tx.UpsertModels(models) })
}

// DeleteModels removes every registered model.
func (c *Core) DeleteModels(ctx context.Context) error {
	return c.update(ctx, func(tx Tx) error { return tx.DeleteModels() })
}

// Models lists the registered models, sorted by Name then Endpoint.
func (c *Core) Models(ctx context.Context) ([]llmmodels.Model, error) {
	var out []llmmodels.Model
	err := c.view(ctx, func(tx Tx) error {
		var err error
		out, err = tx.Models()
		return err
	})
	return out, err
}

// noteStatusChange is called wherever a rollout's status changes, by
// either API, inside the changing transaction: it bumps status.version and
// appends the rollout to the completion log when it becomes terminal. A
// v0.3 rollout leaving a terminal status (a new attempt) and finishing
// again is appended again, so a cursor reader sees its new result.
func (c *Core) noteStatusChange(tx Tx, r *model.Rollout, old model.RolloutStatus) error {
	if old == r.Status {
		return nil
	}
	if r.Status.Finished() && !old.Finished() {
		if _, err := tx.AppendTerminal(r.RolloutID); err != nil {
			return err
		}
	}
	e, err := c.loadExt(tx, r)
	if err != nil {
		return err
	}
	e.Version++
	e.UpdatedAt = c.now()
	return tx.PutRolloutExt(e)
}

// loadExt returns a rollout's extension row, or the one a v0.3 rollout
// implicitly has before its first status change.
func (c *Core) loadExt(tx Tx, r *model.Rollout) (*model.RolloutExt, error) {
	e, err := tx.GetRolloutExt(r.RolloutID)
	if err != nil || e != nil {
		return e, err
	}
	return &model.RolloutExt{RolloutID: r.RolloutID, API: model.APIv03, Version: 1, CreatedAt: r.StartTime,
		UpdatedAt: r.StartTime, IsTrain: r.Mode == nil || *r.Mode == "train"}, nil
}

func (c *Core) v1View(tx Tx, r *model.Rollout) (model.V1Rollout, error) {
	e, err := c.loadExt(tx, r)
	if err != nil {
		return model.V1Rollout{}, err
	}
	var latest *model.Attempt
	if e.API != model.APIv1 {
		m, err := tx.LatestAttempts([]string{r.RolloutID})
		if err != nil {
			return model.V1Rollout{}, err
		}
		latest = m[r.RolloutID]
	}
	return projectV1(r, e, latest), nil
}

// v1State maps a v0.3 status to v1.0's four states (reference §9).
func v1State(s model.RolloutStatus) string {
	switch s {
	case model.RolloutQueuing, model.RolloutRequeuing:
		return model.V1Queuing
	case model.RolloutPreparing, model.RolloutRunning:
		return model.V1Running
	case model.RolloutSucceeded:
		return model.V1Succeeded
	default:
		return model.V1Failed
	}
}

// projectV1 shapes a rollout as v1.0's Rollout. For a v0.3 rollout, latest
// is its latest attempt (its id is the last attempt id).
func projectV1(r *model.Rollout, e *model.RolloutExt, latest *model.Attempt) model.V1Rollout {
	v := model.V1Rollout{
		RolloutID: r.RolloutID,
		Input:     model.RawOrNull(r.Input),
		IsTrain:   e.IsTrain,
		Config:    e.Config,
		Metadata:  jsonOrEmptyObject(r.Metadata),
		Status: model.V1Status{
			State:         v1State(r.Status),
			K8sJobName:    e.K8sJobName,
			LastAttemptID: e.LastAttemptID,
			ErrorMessage:  e.ErrorMessage,
			Version:       e.Version,
			CreatedAt:     e.CreatedAt,
			UpdatedAt:     e.UpdatedAt,
		},
	}
	if e.API == model.APIv1 {
		return v
	}
	timeout := 3600
	if r.Config.TimeoutSeconds != nil {
		timeout = int(*r.Config.TimeoutSeconds)
	}
	v.Config, _ = json.Marshal(map[string]any{"timeout_seconds": timeout, "local": nil, "k8s": nil})
	if latest != nil {
		v.Status.LastAttemptID = model.Ptr(latest.AttemptID)
	}
	if r.Status == model.RolloutCancelled {
		v.Status.ErrorMessage = model.Ptr("cancelled")
	}
	return v
}

// refuseV1Owned stops a v0.3 state write (a rollout or attempt status, a
// new attempt) on a rollout the v1 API owns: its controller drives it under
// v1.0's guard, and a v0.3 runner retrying it would run it twice. The v0.3
// API reports it as its other store refusals (500, error_type ValueError).
func (c *Core) refuseV1Owned(tx Tx, r *model.Rollout) error {
	e, err := tx.GetRolloutExt(r.RolloutID)
	if err != nil || e == nil || e.API != model.APIv1 {
		return err
	}
	return valueError("Rollout %s belongs to the Agent Lightning v1.0 API; change its state with PATCH /api/rollouts/%s",
		r.RolloutID, r.RolloutID)
}

func applyPatch(dst **string, p Patch[string]) {
	if p.Set {
		*dst = p.Value
	}
}
