package export

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// Write streams the dataset selected by opts from st to w, one JSON value
// per line, rollout by rollout in insertion order. Only one page of
// rollouts and one attempt's records are held in memory at a time. An
// error stops the export; what was written until then stays written.
func Write(ctx context.Context, st store.Store, w io.Writer, opts Options) (Summary, error) {
	if err := opts.Validate(); err != nil {
		return Summary{}, &store.InvalidArgumentError{Message: err.Error()}
	}
	opts = opts.WithDefaults()
	x := &exporter{st: st, w: w, opts: opts, sum: Summary{Format: opts.Format}}
	err := x.run(ctx)
	return x.sum, err
}

type exporter struct {
	st   store.Store
	w    io.Writer
	opts Options
	sum  Summary
}

func (x *exporter) run(ctx context.Context) error {
	q := store.RolloutQuery{
		StatusIn:    x.opts.Filter.Statuses,
		RolloutIDIn: x.opts.Filter.RolloutIDs,
		Page:        store.Page{SortOrder: store.SortAsc, Limit: x.opts.PageSize},
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, err := x.st.QueryRollouts(ctx, q)
		if err != nil {
			return fmt.Errorf("query rollouts: %w", err)
		}
		for _, r := range page.Items {
			if !x.matches(r) {
				continue
			}
			if err := x.rollout(ctx, r); err != nil {
				return err
			}
		}
		// Offsets over insertion order stay valid while rollouts are added.
		q.Offset += len(page.Items)
		if len(page.Items) < q.Limit || q.Offset >= page.Total {
			return nil
		}
	}
}

func (x *exporter) matches(r model.Rollout) bool {
	f := x.opts.Filter
	if len(f.Modes) > 0 && (r.Mode == nil || !slices.Contains(f.Modes, *r.Mode)) {
		return false
	}
	if f.ResourcesID != nil && (r.ResourcesID == nil || *r.ResourcesID != *f.ResourcesID) {
		return false
	}
	if f.StartedAfter != nil && r.StartTime < *f.StartedAfter {
		return false
	}
	if f.StartedBefore != nil && r.StartTime >= *f.StartedBefore {
		return false
	}
	return true
}

func (x *exporter) rollout(ctx context.Context, r model.Rollout) error {
	x.sum.Rollouts++
	var attempts []model.Attempt
	switch {
	case x.opts.Attempts == AttemptsAll:
		page, err := x.st.QueryAttempts(ctx, store.AttemptQuery{RolloutID: r.RolloutID, Page: store.AllPage()})
		if err != nil {
			return fmt.Errorf("query the attempts of rollout %s: %w", r.RolloutID, err)
		}
		attempts = page.Items
	case r.Attempt != nil:
		attempts = []model.Attempt{*r.Attempt}
	}
	if len(attempts) == 0 {
		x.sum.RolloutsWithoutAttempt++
		return nil
	}
	for _, a := range attempts {
		if err := x.attempt(ctx, r, a); err != nil {
			return err
		}
	}
	return nil
}

// attemptData is what the formats read about one attempt.
type attemptData struct {
	rollout  model.Rollout
	attempt  model.Attempt
	triplets []model.TripletRecord
	messages []message // nil unless loaded
	reward   *float64
}

func (x *exporter) attempt(ctx context.Context, r model.Rollout, a model.Attempt) error {
	d := &attemptData{rollout: r, attempt: a}
	var err error
	if d.triplets, err = x.st.QueryTriplets(ctx, r.RolloutID, a.AttemptID); err != nil {
		return fmt.Errorf("query the triplets of %s/%s: %w", r.RolloutID, a.AttemptID, err)
	}
	// Messages are needed for SFT, and as the fallback source of rewards
	// and token ids when the attempt has no triplets.
	if x.opts.Format == FormatSFT || len(d.triplets) == 0 {
		recs, err := x.st.QueryMessages(ctx, r.RolloutID, a.AttemptID)
		if err != nil {
			return fmt.Errorf("query the messages of %s/%s: %w", r.RolloutID, a.AttemptID, err)
		}
		d.messages = decodeMessages(recs)
	}
	d.reward = attemptReward(d)
	if min := x.opts.Filter.MinReward; min != nil {
		switch {
		case d.reward == nil:
			x.sum.AttemptsWithoutReward++
			return nil
		case *d.reward < *min:
			x.sum.AttemptsBelowMinReward++
			return nil
		}
	}
	x.sum.Attempts++
	switch x.opts.Format {
	case FormatSFT:
		return x.sft(d)
	case FormatTriplets:
		return x.tripletLines(d)
	default:
		return x.trajectories(d)
	}
}

// attemptReward is the attempt's final reward as VERL reads it: the last
// non-null triplet reward; without triplets, the last reward carried by a
// message record (agentlightning.reward.0.value).
func attemptReward(d *attemptData) *float64 {
	for i := len(d.triplets) - 1; i >= 0; i-- {
		if r := d.triplets[i].Triplet.Reward; r != nil {
			return r
		}
	}
	if len(d.triplets) > 0 {
		return nil
	}
	for i := len(d.messages) - 1; i >= 0; i-- {
		if r := d.messages[i].reward; r != nil {
			return r
		}
	}
	return nil
}

// line writes v as one JSON line.
func (x *exporter) line(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode a %s line: %w", x.opts.Format, err)
	}
	b = append(b, '\n')
	if _, err := x.w.Write(b); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	x.sum.Lines++
	return nil
}
