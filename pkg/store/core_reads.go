package store

import (
	"context"
	"encoding/json"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// QueryRollouts filters rollouts and attaches each one's latest attempt.
func (c *Core) QueryRollouts(ctx context.Context, q RolloutQuery) (model.Paginated[model.Rollout], error) {
	c.maybeScan(ctx)
	if err := validatePage(q.Page, rolloutFields); err != nil {
		return model.Paginated[model.Rollout]{}, err
	}
	if err := validateLogic(q.FilterLogic); err != nil {
		return model.Paginated[model.Rollout]{}, err
	}
	f := Filter{
		Pool:  concat(within("status", q.StatusIn), within("rollout_id", q.RolloutIDIn), substring("rollout_id", q.RolloutIDContains)),
		Logic: q.FilterLogic,
	}
	var items []model.Rollout
	var total int
	err := c.view(ctx, func(tx Tx) error {
		var err error
		if items, total, err = tx.QueryRollouts(f, q.Page); err != nil || len(items) == 0 {
			return err
		}
		ids := make([]string, len(items))
		for i := range items {
			ids[i] = items[i].RolloutID
		}
		latest, err := tx.LatestAttempts(ids)
		for i := range items {
			items[i].Attempt = latest[items[i].RolloutID]
		}
		return err
	})
	return paginated(items, total, q.Page), err
}

// QuerySpans filters one rollout's spans. The rollout (and attempt, when
// given) scope is ANDed on top of the filters whatever the filter logic.
func (c *Core) QuerySpans(ctx context.Context, q SpanQuery) (model.Paginated[model.Span], error) {
	var items []model.Span
	var total int
	err := c.querySpans(ctx, &q, func(tx Tx, f Filter) (err error) {
		items, total, err = tx.QuerySpans(f, q.Page)
		return err
	})
	return paginated(items, total, q.Page), err
}

// RawSpanTx is implemented by backends whose stored span documents are the
// JSON the API serves (the SQL backends store json.Marshal of the span), so
// that a query can hand them out without decoding and encoding every span.
type RawSpanTx interface {
	QuerySpansRaw(f Filter, p Page) ([]json.RawMessage, int, error)
}

// QuerySpansRaw is QuerySpans answering each span as its JSON encoding: the
// stored document itself where the backend keeps it verbatim (RawSpanTx).
func (c *Core) QuerySpansRaw(ctx context.Context, q SpanQuery) (model.Paginated[json.RawMessage], error) {
	var items []json.RawMessage
	var total int
	err := c.querySpans(ctx, &q, func(tx Tx, f Filter) (err error) {
		if raw, ok := tx.(RawSpanTx); ok {
			items, total, err = raw.QuerySpansRaw(f, q.Page)
			return err
		}
		spans, n, err := tx.QuerySpans(f, q.Page)
		if err != nil {
			return err
		}
		items, total = make([]json.RawMessage, len(spans)), n
		for i := range spans {
			if items[i], err = json.Marshal(spans[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return paginated(items, total, q.Page), err
}

// querySpans validates q, applies its defaults and runs read with the
// filter it describes in one read transaction.
func (c *Core) querySpans(ctx context.Context, q *SpanQuery, read func(Tx, Filter) error) error {
	c.maybeScan(ctx)
	if q.SortBy == nil {
		q.SortBy = model.Ptr("sequence_id")
	}
	if err := validatePage(q.Page, spanFields); err != nil {
		return err
	}
	if err := validateLogic(q.FilterLogic); err != nil {
		return err
	}
	return c.view(ctx, func(tx Tx) error {
		attemptID := q.AttemptID
		if attemptID != nil && *attemptID == LatestAttempt {
			latest, err := tx.LatestAttempts([]string{q.RolloutID})
			if err != nil || latest[q.RolloutID] == nil {
				return err
			}
			attemptID = model.Ptr(latest[q.RolloutID].AttemptID)
		}
		return read(tx, Filter{
			Must: concat(exact("rollout_id", &q.RolloutID), exact("attempt_id", attemptID)),
			Pool: concat(
				exact("trace_id", q.TraceID), substring("trace_id", q.TraceIDContains),
				exact("span_id", q.SpanID), substring("span_id", q.SpanIDContains),
				exact("parent_id", q.ParentID), substring("parent_id", q.ParentIDContains),
				exact("name", q.Name), substring("name", q.NameContains),
			),
			Logic: q.FilterLogic,
		})
	})
}

// QueryResources lists resource snapshots; both id conditions are ANDed.
func (c *Core) QueryResources(ctx context.Context, q ResourcesQuery) (model.Paginated[model.ResourcesUpdate], error) {
	if err := validatePage(q.Page, resourcesFields); err != nil {
		return model.Paginated[model.ResourcesUpdate]{}, err
	}
	f := Filter{Must: concat(exact("resources_id", q.ResourcesID), substring("resources_id", q.ResourcesIDContains))}
	var items []model.ResourcesUpdate
	var total int
	err := c.view(ctx, func(tx Tx) error {
		var err error
		items, total, err = tx.QueryResources(f, q.Page)
		return err
	})
	return paginated(items, total, q.Page), err
}

// QueryWorkers filters workers.
func (c *Core) QueryWorkers(ctx context.Context, q WorkerQuery) (model.Paginated[model.Worker], error) {
	c.maybeScan(ctx)
	if err := validatePage(q.Page, workerFields); err != nil {
		return model.Paginated[model.Worker]{}, err
	}
	if err := validateLogic(q.FilterLogic); err != nil {
		return model.Paginated[model.Worker]{}, err
	}
	f := Filter{
		Pool:  concat(within("status", q.StatusIn), substring("worker_id", q.WorkerIDContains)),
		Logic: q.FilterLogic,
	}
	var items []model.Worker
	var total int
	err := c.view(ctx, func(tx Tx) error {
		var err error
		items, total, err = tx.QueryWorkers(f, q.Page)
		return err
	})
	return paginated(items, total, q.Page), err
}
