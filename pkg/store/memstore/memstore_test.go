package memstore

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

func update(t *testing.T, b store.Backend, fn func(store.Tx) error) {
	t.Helper()
	require.NoError(t, b.Update(context.Background(), fn))
}

func view(t *testing.T, b store.Backend, fn func(store.Tx) error) {
	t.Helper()
	require.NoError(t, b.View(context.Background(), fn))
}

func rollout(id string, status model.RolloutStatus, start float64, end *float64, resourcesID *string) *model.Rollout {
	return &model.Rollout{
		RolloutID:   id,
		Input:       json.RawMessage(`{"q":"` + id + `"}`),
		StartTime:   start,
		EndTime:     end,
		ResourcesID: resourcesID,
		Status:      status,
		Config:      model.DefaultRolloutConfig(),
	}
}

// seedRollouts stores, in this order:
//
//	r1 queuing   start 3  end nil  resources "res-a"
//	r2 failed    start 1  end 5    resources nil
//	r3 running   start 2  end nil  resources "res-b"
//	r4 failed    start 1  end 4    resources "res-a"
func seedRollouts(t *testing.T) store.Backend {
	t.Helper()
	b := New()
	update(t, b, func(tx store.Tx) error {
		for _, r := range []*model.Rollout{
			rollout("r1", model.RolloutQueuing, 3, nil, model.Ptr("res-a")),
			rollout("r2", model.RolloutFailed, 1, model.Ptr(5.0), nil),
			rollout("r3", model.RolloutRunning, 2, nil, model.Ptr("res-b")),
			rollout("r4", model.RolloutFailed, 1, model.Ptr(4.0), model.Ptr("res-a")),
		} {
			if err := tx.InsertRollout(r); err != nil {
				return err
			}
		}
		return nil
	})
	return b
}

func queryRolloutIDs(t *testing.T, b store.Backend, f store.Filter, p store.Page) ([]string, int, error) {
	t.Helper()
	var ids []string
	var total int
	err := b.View(context.Background(), func(tx store.Tx) error {
		rs, n, err := tx.QueryRollouts(f, p)
		if err != nil {
			return err
		}
		total = n
		ids = []string{}
		for _, r := range rs {
			ids = append(ids, r.RolloutID)
		}
		return nil
	})
	return ids, total, err
}

func exact(field, v string) store.Cond { return store.Cond{Field: field, Op: store.OpExact, Value: v} }

func within(field string, vs ...string) store.Cond {
	return store.Cond{Field: field, Op: store.OpWithin, Values: vs}
}

func containing(field, v string) store.Cond {
	return store.Cond{Field: field, Op: store.OpContains, Value: v}
}

func TestFilter(t *testing.T) {
	b := seedRollouts(t)
	tests := []struct {
		name   string
		filter store.Filter
		want   []string
	}{
		{name: "empty pool matches all", want: []string{"r1", "r2", "r3", "r4"}},
		{name: "exact", filter: store.Filter{Pool: []store.Cond{exact("status", "failed")}}, want: []string{"r2", "r4"}},
		{name: "within", filter: store.Filter{Pool: []store.Cond{within("status", "queuing", "running")}}, want: []string{"r1", "r3"}},
		{name: "within empty matches nothing", filter: store.Filter{Pool: []store.Cond{within("status")}}, want: []string{}},
		{name: "within empty under or still matches nothing alone", filter: store.Filter{Logic: "or", Pool: []store.Cond{within("status")}}, want: []string{}},
		{name: "contains", filter: store.Filter{Pool: []store.Cond{containing("resources_id", "-a")}}, want: []string{"r1", "r4"}},
		{name: "contains never matches null", filter: store.Filter{Pool: []store.Cond{containing("resources_id", "")}}, want: []string{"r1", "r3", "r4"}},
		{name: "exact never matches null", filter: store.Filter{Pool: []store.Cond{exact("end_time", "0")}}, want: []string{}},
		{name: "exact on a number", filter: store.Filter{Pool: []store.Cond{exact("end_time", "4")}}, want: []string{"r4"}},
		{
			name:   "and is the default logic",
			filter: store.Filter{Pool: []store.Cond{exact("status", "failed"), containing("resources_id", "res")}},
			want:   []string{"r4"},
		},
		{
			name:   "explicit and",
			filter: store.Filter{Logic: "and", Pool: []store.Cond{exact("status", "failed"), containing("rollout_id", "2")}},
			want:   []string{"r2"},
		},
		{
			name:   "or",
			filter: store.Filter{Logic: "or", Pool: []store.Cond{exact("status", "running"), within("rollout_id", "r1")}},
			want:   []string{"r1", "r3"},
		},
		{
			name: "must is ANDed on top of or",
			filter: store.Filter{
				Logic: "or",
				Must:  []store.Cond{exact("resources_id", "res-a")},
				Pool:  []store.Cond{exact("status", "running"), exact("status", "failed")},
			},
			want: []string{"r4"},
		},
		{
			name:   "must alone",
			filter: store.Filter{Must: []store.Cond{within("rollout_id", "r2", "r3")}},
			want:   []string{"r2", "r3"},
		},
		{
			name:   "contains on a JSON object never matches",
			filter: store.Filter{Pool: []store.Cond{containing("input", "r1")}},
			want:   []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := queryRolloutIDs(t, b, tt.filter, store.AllPage())
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, len(tt.want), total)
		})
	}
}

func TestFilterErrors(t *testing.T) {
	b := seedRollouts(t)
	tests := []struct {
		name    string
		filter  store.Filter
		page    store.Page
		message string
	}{
		{name: "unknown logic", filter: store.Filter{Logic: "xor"}, page: store.AllPage(), message: "Invalid filter_logic: xor, allowed values are: and, or"},
		{name: "unknown filter field", filter: store.Filter{Pool: []store.Cond{exact("nope", "x")}}, page: store.AllPage(), message: "Invalid filter field: nope"},
		{name: "unknown must field", filter: store.Filter{Must: []store.Cond{exact("attempt", "x")}}, page: store.AllPage(), message: "Invalid filter field: attempt"},
		{name: "unknown sort field", page: store.Page{SortBy: model.Ptr("attempt"), Limit: -1}, message: "Invalid sort_by: attempt, allowed fields are: rollout_id, input, start_time, end_time, mode, resources_id, status, config, metadata"},
		{name: "bad sort order", page: store.Page{SortOrder: "up", Limit: -1}, message: "Invalid sort_order: up, allowed values are: asc, desc"},
		{name: "negative offset", page: store.Page{Limit: -1, Offset: -1}, message: "Offset must be greater than or equal to 0"},
		{name: "limit below -1", page: store.Page{Limit: -2}, message: "Limit must be greater than 0 or -1 for no limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := queryRolloutIDs(t, b, tt.filter, tt.page)
			var inv *store.InvalidArgumentError
			require.ErrorAs(t, err, &inv)
			assert.Contains(t, inv.Message, tt.message)
		})
	}
}

func TestSort(t *testing.T) {
	b := seedRollouts(t)
	sorted := func(field, order string) store.Page {
		return store.Page{SortBy: model.Ptr(field), SortOrder: order, Limit: -1}
	}
	tests := []struct {
		name string
		page store.Page
		want []string
	}{
		{name: "no sort is insertion order", page: store.AllPage(), want: []string{"r1", "r2", "r3", "r4"}},
		{name: "empty order means asc", page: sorted("rollout_id", ""), want: []string{"r1", "r2", "r3", "r4"}},
		{name: "string desc", page: sorted("rollout_id", "desc"), want: []string{"r4", "r3", "r2", "r1"}},
		// Ties at start_time 1 (r2, r4) keep insertion order both ways.
		{name: "number asc stable", page: sorted("start_time", "asc"), want: []string{"r2", "r4", "r3", "r1"}},
		{name: "number desc stable", page: sorted("start_time", "desc"), want: []string{"r1", "r3", "r2", "r4"}},
		// Null *_time sorts as +inf: last in asc, first in desc, ties by insertion.
		{name: "null time last in asc", page: sorted("end_time", "asc"), want: []string{"r4", "r2", "r1", "r3"}},
		{name: "null time first in desc", page: sorted("end_time", "desc"), want: []string{"r1", "r3", "r2", "r4"}},
		// Null strings sort as "".
		{name: "null string first in asc", page: sorted("resources_id", "asc"), want: []string{"r2", "r1", "r4", "r3"}},
		{name: "null string last in desc", page: sorted("resources_id", "desc"), want: []string{"r3", "r1", "r4", "r2"}},
		{name: "status ties stable desc", page: sorted("status", "desc"), want: []string{"r3", "r1", "r2", "r4"}},
		{name: "JSON field by text", page: sorted("input", "desc"), want: []string{"r4", "r3", "r2", "r1"}},
		{name: "all-equal JSON field keeps insertion order in desc", page: sorted("config", "desc"), want: []string{"r1", "r2", "r3", "r4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := queryRolloutIDs(t, b, store.Filter{}, tt.page)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestSortNullSpanFields(t *testing.T) {
	// Nullable span fields: a null *_time sorts as +inf, a null string as "".
	b := New()
	update(t, b, func(tx store.Tx) error {
		for _, s := range []model.Span{
			{RolloutID: "r", AttemptID: "a", SpanID: "s1", SequenceID: 1, StartTime: model.Ptr(-1.0)},
			{RolloutID: "r", AttemptID: "a", SpanID: "s2", SequenceID: 2},
			{RolloutID: "r", AttemptID: "a", SpanID: "s3", SequenceID: 3, StartTime: model.Ptr(1.0)},
		} {
			if _, err := tx.InsertSpans([]model.Span{s}); err != nil {
				return err
			}
		}
		return nil
	})
	tests := []struct {
		field, order string
		want         []string
	}{
		{"start_time", "asc", []string{"s1", "s3", "s2"}},
		{"start_time", "desc", []string{"s2", "s3", "s1"}},
		{"parent_id", "desc", []string{"s1", "s2", "s3"}},
	}
	for _, tt := range tests {
		t.Run(tt.field+" "+tt.order, func(t *testing.T) {
			assert.Equal(t, tt.want, spanIDs(t, b, store.Filter{}, store.Page{SortBy: &tt.field, SortOrder: tt.order, Limit: -1}))
		})
	}
}

func TestPagination(t *testing.T) {
	b := seedRollouts(t)
	tests := []struct {
		name          string
		limit, offset int
		want          []string
	}{
		{name: "all", limit: -1, want: []string{"r1", "r2", "r3", "r4"}},
		{name: "limit 0 returns nothing", limit: 0, want: []string{}},
		{name: "limit", limit: 2, want: []string{"r1", "r2"}},
		{name: "limit and offset", limit: 2, offset: 1, want: []string{"r2", "r3"}},
		{name: "limit past the end", limit: 10, offset: 3, want: []string{"r4"}},
		{name: "offset only", limit: -1, offset: 2, want: []string{"r3", "r4"}},
		{name: "offset at the end", limit: -1, offset: 4, want: []string{}},
		{name: "offset past the end", limit: 1, offset: 10, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, total, err := queryRolloutIDs(t, b, store.Filter{}, store.Page{Limit: tt.limit, Offset: tt.offset})
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, 4, total, "total counts matches before paging")
		})
	}
	t.Run("total counts filtered matches with sort and page", func(t *testing.T) {
		got, total, err := queryRolloutIDs(t, b,
			store.Filter{Pool: []store.Cond{exact("status", "failed")}},
			store.Page{SortBy: model.Ptr("end_time"), SortOrder: "desc", Limit: 1, Offset: 1})
		require.NoError(t, err)
		assert.Equal(t, []string{"r4"}, got)
		assert.Equal(t, 2, total)
	})
	t.Run("empty page encodes as []", func(t *testing.T) {
		view(t, b, func(tx store.Tx) error {
			rs, _, err := tx.QueryRollouts(store.Filter{}, store.Page{Limit: 0})
			require.NoError(t, err)
			assert.NotNil(t, rs)
			return nil
		})
	})
}

// snapshot captures everything a transaction could change, for comparing
// before and after a rollback.
func snapshot(t *testing.T, b store.Backend) map[string]any {
	t.Helper()
	out := map[string]any{}
	view(t, b, func(tx store.Tx) error {
		var err error
		out["counts"], err = tx.Counts()
		require.NoError(t, err)
		out["rollouts"], _, err = tx.QueryRollouts(store.Filter{}, store.AllPage())
		require.NoError(t, err)
		out["attempts"], _, err = tx.QueryAttempts("r1", store.AllPage())
		require.NoError(t, err)
		out["spans"], _, err = tx.QuerySpans(store.Filter{}, store.AllPage())
		require.NoError(t, err)
		out["r1 spans"], _, err = tx.QuerySpans(store.Filter{Must: []store.Cond{exact("rollout_id", "r1")}}, store.AllPage())
		require.NoError(t, err)
		out["resources"], _, err = tx.QueryResources(store.Filter{}, store.AllPage())
		require.NoError(t, err)
		out["latest"], err = tx.LatestResources()
		require.NoError(t, err)
		out["workers"], _, err = tx.QueryWorkers(store.Filter{}, store.AllPage())
		require.NoError(t, err)
		out["triplets"], err = tx.QueryTriplets("r1", "")
		require.NoError(t, err)
		out["messages"], err = tx.QueryMessages("r1", "")
		require.NoError(t, err)
		out["r1 queued"], err = tx.QueueContains("r1")
		require.NoError(t, err)
		out["r9 queued"], err = tx.QueueContains("r9")
		require.NoError(t, err)
		return nil
	})
	return out
}

func writeEverything(tx store.Tx, tag string) error {
	if err := tx.InsertRollout(rollout("r-"+tag, model.RolloutQueuing, 1, nil, nil)); err != nil {
		return err
	}
	r1, _ := tx.GetRollout("r1")
	r1.Status = model.RolloutRunning
	if err := tx.UpdateRollout(r1); err != nil {
		return err
	}
	if err := tx.InsertAttempt(&model.Attempt{RolloutID: "r1", AttemptID: "a-" + tag, SequenceID: 9}); err != nil {
		return err
	}
	a1, _ := tx.GetAttempt("r1", "a1")
	a1.Status = model.AttemptFailed
	if err := tx.UpdateAttempt(a1); err != nil {
		return err
	}
	if err := tx.QueuePush("r9", "r1"); err != nil {
		return err
	}
	if _, err := tx.QueuePop(2); err != nil {
		return err
	}
	if err := tx.SeqRaise("r1", 50); err != nil {
		return err
	}
	if _, err := tx.SeqIncrement("r-"+tag, 3); err != nil {
		return err
	}
	if _, err := tx.InsertSpans([]model.Span{{RolloutID: "r1", AttemptID: "a1", SpanID: "s-" + tag}}); err != nil {
		return err
	}
	if err := tx.PutResources(&model.ResourcesUpdate{ResourcesID: "rs1", UpdateTime: 100, Version: 2}); err != nil {
		return err
	}
	if err := tx.PutResources(&model.ResourcesUpdate{ResourcesID: "rs-" + tag, UpdateTime: 200}); err != nil {
		return err
	}
	if err := tx.PutWorker(&model.Worker{WorkerID: "w1", Status: model.WorkerBusy}); err != nil {
		return err
	}
	if err := tx.PutWorker(&model.Worker{WorkerID: "w-" + tag}); err != nil {
		return err
	}
	if _, err := tx.ReplaceTriplets("r1", "a1", 5, []model.TripletRecord{{RolloutID: "r1", AttemptID: "a1", Revision: 5}}); err != nil {
		return err
	}
	if _, err := tx.ReplaceTriplets("r1", "a-"+tag, 1, []model.TripletRecord{{}, {}}); err != nil {
		return err
	}
	return tx.InsertMessages([]model.MessageRecord{{RolloutID: "r1", AttemptID: "a1"}, {RolloutID: "r-" + tag}})
}

func seedEverything(t *testing.T) store.Backend {
	t.Helper()
	b := New()
	update(t, b, func(tx store.Tx) error {
		require.NoError(t, tx.InsertRollout(rollout("r1", model.RolloutQueuing, 1, nil, nil)))
		require.NoError(t, tx.InsertAttempt(&model.Attempt{RolloutID: "r1", AttemptID: "a1", SequenceID: 1, Status: model.AttemptRunning}))
		require.NoError(t, tx.QueuePush("r1", "r2"))
		require.NoError(t, tx.SeqRaise("r1", 2))
		_, err := tx.InsertSpans([]model.Span{{RolloutID: "r1", AttemptID: "a1", SpanID: "s1", SequenceID: 1}})
		require.NoError(t, err)
		require.NoError(t, tx.PutResources(&model.ResourcesUpdate{ResourcesID: "rs1", UpdateTime: 10, Version: 1}))
		require.NoError(t, tx.PutWorker(&model.Worker{WorkerID: "w1", Status: model.WorkerIdle}))
		_, err = tx.ReplaceTriplets("r1", "a1", 1, []model.TripletRecord{{RolloutID: "r1", AttemptID: "a1", Revision: 1}})
		require.NoError(t, err)
		return tx.InsertMessages([]model.MessageRecord{{RolloutID: "r1", AttemptID: "a1", SequenceID: 1}})
	})
	return b
}

// drainQueue pops the whole queue in a transaction it then rolls back, so
// the caller can inspect the queue without changing it.
func drainQueue(t *testing.T, b store.Backend) []string {
	t.Helper()
	var ids []string
	stop := errors.New("stop")
	err := b.Update(context.Background(), func(tx store.Tx) error {
		var err error
		ids, err = tx.QueuePop(1 << 20)
		require.NoError(t, err)
		return stop
	})
	require.ErrorIs(t, err, stop)
	return ids
}

func TestRollback(t *testing.T) {
	b := seedEverything(t)
	before := snapshot(t, b)
	boom := errors.New("boom")

	err := b.Update(context.Background(), func(tx store.Tx) error {
		require.NoError(t, writeEverything(tx, "x"))
		return boom
	})
	require.ErrorIs(t, err, boom)
	assert.Equal(t, before, snapshot(t, b))
	assert.Equal(t, []string{"r1", "r2"}, drainQueue(t, b), "the queue is restored in order")

	// The sequence counters are not visible through a query; check them
	// directly: a rolled-back raise and increment leave the old values.
	update(t, b, func(tx store.Tx) error {
		v, err := tx.SeqIncrement("r1", 1)
		require.NoError(t, err)
		assert.Equal(t, 3, v)
		v, err = tx.SeqIncrement("r-x", 1)
		require.NoError(t, err)
		assert.Equal(t, 1, v)
		return nil
	})

	// The per-rollout indexes forgot the rolled-back rows: writing the same
	// keys again stores each once.
	update(t, b, func(tx store.Tx) error {
		_, err := tx.ReplaceTriplets("r1", "a-x", 1, []model.TripletRecord{{AttemptID: "a-x"}})
		require.NoError(t, err)
		ts, err := tx.QueryTriplets("r1", "")
		require.NoError(t, err)
		assert.Len(t, ts, 2)
		stored, err := tx.InsertSpans([]model.Span{{RolloutID: "r1", AttemptID: "a1", SpanID: "s-x"}})
		require.NoError(t, err)
		assert.Equal(t, []bool{true}, stored)
		spans, total, err := tx.QuerySpans(store.Filter{Must: []store.Cond{exact("rollout_id", "r1")}}, store.AllPage())
		require.NoError(t, err)
		assert.Equal(t, 2, total)
		assert.Len(t, spans, 2)
		return nil
	})
}

func TestRollbackOnPanic(t *testing.T) {
	b := seedEverything(t)
	before := snapshot(t, b)
	assert.Panics(t, func() {
		_ = b.Update(context.Background(), func(tx store.Tx) error {
			require.NoError(t, writeEverything(tx, "p"))
			panic("bug")
		})
	})
	assert.Equal(t, before, snapshot(t, b))
	assert.Equal(t, []string{"r1", "r2"}, drainQueue(t, b), "the queue is restored in order")
}

func TestCommitKeepsWrites(t *testing.T) {
	b := seedEverything(t)
	update(t, b, func(tx store.Tx) error { return writeEverything(tx, "c") })
	view(t, b, func(tx store.Tx) error {
		c, err := tx.Counts()
		require.NoError(t, err)
		assert.Equal(t, store.Counts{Rollouts: 2, Attempts: 2, Spans: 2, Resources: 2, Workers: 2, Triplets: 3, Messages: 3}, c)
		r1, _ := tx.GetRollout("r1")
		assert.Equal(t, model.RolloutRunning, r1.Status)
		queued, _ := tx.QueueContains("r2")
		assert.False(t, queued)
		latest, _ := tx.LatestResources()
		assert.Equal(t, "rs-c", latest.ResourcesID)
		return nil
	})
	// Seeded [r1 r2], pushed r9 and r1, popped two.
	assert.Equal(t, []string{"r9", "r1"}, drainQueue(t, b))
}

func TestRollbackAfterRepeatedWrites(t *testing.T) {
	// Several writes to the same rows in one failed transaction must unwind
	// to the state before the first one.
	b := seedEverything(t)
	before := snapshot(t, b)
	_ = b.Update(context.Background(), func(tx store.Tx) error {
		for i := 0; i < 3; i++ {
			r1, _ := tx.GetRollout("r1")
			r1.Metadata = json.RawMessage(`{"i":1}`)
			require.NoError(t, tx.UpdateRollout(r1))
			require.NoError(t, tx.PutResources(&model.ResourcesUpdate{ResourcesID: "rs1", UpdateTime: float64(20 + i)}))
			_, err := tx.ReplaceTriplets("r1", "a1", 2+i, make([]model.TripletRecord, i))
			require.NoError(t, err)
			require.NoError(t, tx.QueuePush("r1"))
			_, err = tx.QueuePop(1)
			require.NoError(t, err)
		}
		return errors.New("abort")
	})
	assert.Equal(t, before, snapshot(t, b))
	assert.Equal(t, []string{"r1", "r2"}, drainQueue(t, b))
}

func TestDeepCopy(t *testing.T) {
	b := New()
	r := rollout("r1", model.RolloutRunning, 1, model.Ptr(2.0), model.Ptr("res"))
	r.Mode = model.Ptr(model.ModeTrain)
	r.Metadata = json.RawMessage(`{"k":"v"}`)
	r.Config.RetryCondition = []model.AttemptStatus{model.AttemptFailed}
	r.Config.TimeoutSeconds = model.Ptr(10.0)
	r.Attempt = &model.Attempt{AttemptID: "a-attached"}
	a := &model.Attempt{RolloutID: "r1", AttemptID: "a1", WorkerID: model.Ptr("w"), Metadata: json.RawMessage(`{"m":1}`)}
	w := &model.Worker{WorkerID: "w", HeartbeatStats: json.RawMessage(`{"cpu":1}`), CurrentRolloutID: model.Ptr("r1")}
	res := &model.ResourcesUpdate{ResourcesID: "rs", Resources: model.NamedResources{"llm": json.RawMessage(`{"x":1}`)}}
	sp := model.Span{
		RolloutID: "r1", AttemptID: "a1", SpanID: "s1", ParentID: model.Ptr("p"),
		Attributes: model.Attributes{"list": []any{"a", map[string]any{"b": 1.5}}, "strs": []string{"x"}},
		Events:     []model.Event{{Name: "e", Attributes: model.Attributes{"k": "v"}}},
		Context:    &model.SpanContext{TraceID: "t", TraceState: map[string]string{"k": "v"}},
		Extra:      model.Extras{"custom": json.RawMessage(`{"z":1}`)},
	}
	tr := model.TripletRecord{RolloutID: "r1", AttemptID: "a1", Triplet: model.Triplet{Prompt: json.RawMessage(`{"p":1}`), Reward: model.Ptr(1.0)}}
	msg := model.MessageRecord{RolloutID: "r1", AttemptID: "a1", Body: json.RawMessage(`{"messages":[]}`)}

	update(t, b, func(tx store.Tx) error {
		require.NoError(t, tx.InsertRollout(r))
		require.NoError(t, tx.InsertAttempt(a))
		require.NoError(t, tx.PutWorker(w))
		require.NoError(t, tx.PutResources(res))
		_, err := tx.InsertSpans([]model.Span{sp})
		require.NoError(t, err)
		_, err = tx.ReplaceTriplets("r1", "a1", 1, []model.TripletRecord{tr})
		require.NoError(t, err)
		return tx.InsertMessages([]model.MessageRecord{msg})
	})

	// Mutating what was passed in must not reach the store.
	r.Metadata[2] = 'X'
	r.Config.RetryCondition[0] = model.AttemptTimeout
	*r.Config.TimeoutSeconds = 99
	*r.EndTime = 99
	*r.Mode = model.ModeTest
	*a.WorkerID = "other"
	a.Metadata[2] = 'X'
	w.HeartbeatStats[2] = 'X'
	*w.CurrentRolloutID = "other"
	res.Resources["llm"][2] = 'X'
	res.Resources["new"] = nil
	sp.Attributes["list"].([]any)[1].(map[string]any)["b"] = 9.0
	sp.Attributes["strs"].([]string)[0] = "changed"
	sp.Events[0].Attributes["k"] = "changed"
	sp.Context.TraceState["k"] = "changed"
	sp.Extra["custom"][2] = 'X'
	*sp.ParentID = "changed"
	tr.Triplet.Prompt[2] = 'X'
	*tr.Triplet.Reward = 9
	msg.Body[2] = 'X'

	check := func() {
		view(t, b, func(tx store.Tx) error {
			gr, _ := tx.GetRollout("r1")
			assert.JSONEq(t, `{"k":"v"}`, string(gr.Metadata))
			assert.Equal(t, []model.AttemptStatus{model.AttemptFailed}, gr.Config.RetryCondition)
			assert.Equal(t, 10.0, *gr.Config.TimeoutSeconds)
			assert.Equal(t, 2.0, *gr.EndTime)
			assert.Equal(t, model.ModeTrain, *gr.Mode)
			assert.Nil(t, gr.Attempt, "the attached attempt is not stored")
			ga, _ := tx.GetAttempt("r1", "a1")
			assert.Equal(t, "w", *ga.WorkerID)
			assert.JSONEq(t, `{"m":1}`, string(ga.Metadata))
			gw, _ := tx.GetWorker("w")
			assert.JSONEq(t, `{"cpu":1}`, string(gw.HeartbeatStats))
			assert.Equal(t, "r1", *gw.CurrentRolloutID)
			gres, _ := tx.GetResources("rs")
			assert.Len(t, gres.Resources, 1)
			assert.JSONEq(t, `{"x":1}`, string(gres.Resources["llm"]))
			spans, _, _ := tx.QuerySpans(store.Filter{}, store.AllPage())
			require.Len(t, spans, 1)
			gs := spans[0]
			assert.Equal(t, 1.5, gs.Attributes["list"].([]any)[1].(map[string]any)["b"])
			assert.Equal(t, []string{"x"}, gs.Attributes["strs"])
			assert.Equal(t, "v", gs.Events[0].Attributes["k"])
			assert.Equal(t, "v", gs.Context.TraceState["k"])
			assert.JSONEq(t, `{"z":1}`, string(gs.Extra["custom"]))
			assert.Equal(t, "p", *gs.ParentID)
			ts, _ := tx.QueryTriplets("r1", "a1")
			require.Len(t, ts, 1)
			assert.JSONEq(t, `{"p":1}`, string(ts[0].Triplet.Prompt))
			assert.Equal(t, 1.0, *ts[0].Triplet.Reward)
			ms, _ := tx.QueryMessages("r1", "a1")
			require.Len(t, ms, 1)
			assert.JSONEq(t, `{"messages":[]}`, string(ms[0].Body))

			// Mutating what came out must not reach the store either.
			gr.Metadata[2] = 'Y'
			gr.Config.RetryCondition[0] = model.AttemptTimeout
			*gr.EndTime = 7
			*ga.WorkerID = "y"
			gw.HeartbeatStats[2] = 'Y'
			gres.Resources["llm"][2] = 'Y'
			gs.Attributes["list"].([]any)[1].(map[string]any)["b"] = 7.0
			gs.Attributes["strs"].([]string)[0] = "y"
			gs.Context.TraceState["k"] = "y"
			ts[0].Triplet.Prompt[2] = 'Y'
			ms[0].Body[2] = 'Y'
			return nil
		})
	}
	check()
	check()
}

func TestQueue(t *testing.T) {
	b := New()
	update(t, b, func(tx store.Tx) error {
		got, err := tx.QueuePop(3)
		require.NoError(t, err)
		assert.Empty(t, got, "empty queue")

		require.NoError(t, tx.QueuePush("a", "b"))
		require.NoError(t, tx.QueuePush("c"))
		require.NoError(t, tx.QueuePush())
		for _, id := range []string{"a", "b", "c"} {
			ok, err := tx.QueueContains(id)
			require.NoError(t, err)
			assert.True(t, ok, id)
		}
		ok, _ := tx.QueueContains("d")
		assert.False(t, ok)

		got, err = tx.QueuePop(0)
		require.NoError(t, err)
		assert.Empty(t, got)
		got, err = tx.QueuePop(-1)
		require.NoError(t, err)
		assert.Empty(t, got)

		got, err = tx.QueuePop(1)
		require.NoError(t, err)
		assert.Equal(t, []string{"a"}, got)
		ok, _ = tx.QueueContains("a")
		assert.False(t, ok)

		require.NoError(t, tx.QueuePush("a"))
		got, err = tx.QueuePop(10)
		require.NoError(t, err)
		assert.Equal(t, []string{"b", "c", "a"}, got, "FIFO, and pops no more than there is")
		return nil
	})
	t.Run("an id queued twice stays queued until both are popped", func(t *testing.T) {
		update(t, b, func(tx store.Tx) error {
			require.NoError(t, tx.QueuePush("x", "y", "x"))
			_, _ = tx.QueuePop(1)
			ok, _ := tx.QueueContains("x")
			assert.True(t, ok)
			_, _ = tx.QueuePop(2)
			ok, _ = tx.QueueContains("x")
			assert.False(t, ok)
			return nil
		})
	})
}

func TestSequenceCounters(t *testing.T) {
	b := New()
	update(t, b, func(tx store.Tx) error {
		steps := []struct {
			raise     int // applied when > 0
			increment int
			want      int
		}{
			{increment: 1, want: 1},
			{increment: 1, want: 2},
			{increment: 3, want: 5},
			{raise: 100, increment: 1, want: 101},
			{raise: 50, increment: 1, want: 102}, // a raise never lowers
			{increment: 0, want: 102},
		}
		for _, s := range steps {
			if s.raise > 0 {
				require.NoError(t, tx.SeqRaise("r1", s.raise))
			}
			got, err := tx.SeqIncrement("r1", s.increment)
			require.NoError(t, err)
			assert.Equal(t, s.want, got)
		}
		got, err := tx.SeqIncrement("r2", 1)
		require.NoError(t, err)
		assert.Equal(t, 1, got, "counters are per rollout")
		return nil
	})
}

func spanIDs(t *testing.T, b store.Backend, f store.Filter, p store.Page) []string {
	t.Helper()
	ids := []string{}
	view(t, b, func(tx store.Tx) error {
		spans, _, err := tx.QuerySpans(f, p)
		require.NoError(t, err)
		for _, s := range spans {
			ids = append(ids, s.SpanID)
		}
		return nil
	})
	return ids
}

func TestInsertSpansDuplicates(t *testing.T) {
	b := New()
	span := func(rollout, attempt, id string) model.Span {
		return model.Span{RolloutID: rollout, AttemptID: attempt, SpanID: id, Name: rollout + "/" + attempt + "/" + id}
	}
	update(t, b, func(tx store.Tx) error {
		got, err := tx.InsertSpans([]model.Span{span("r1", "a1", "s1"), span("r1", "a1", "s2")})
		require.NoError(t, err)
		assert.Equal(t, []bool{true, true}, got)

		dup := span("r1", "a1", "s1")
		dup.Name = "second"
		got, err = tx.InsertSpans([]model.Span{
			dup,                    // already stored
			span("r1", "a2", "s1"), // another attempt: a different key
			span("r2", "a1", "s1"), // another rollout: a different key
			span("r1", "a1", "s3"), // new
			span("r1", "a1", "s3"), // duplicate inside the batch
			span("r1", "a2", "s1"), // duplicate inside the batch
		})
		require.NoError(t, err)
		assert.Equal(t, []bool{false, true, true, true, false, false}, got)

		got, err = tx.InsertSpans(nil)
		require.NoError(t, err)
		assert.Empty(t, got)
		return nil
	})
	view(t, b, func(tx store.Tx) error {
		c, _ := tx.Counts()
		assert.Equal(t, 5, c.Spans)
		spans, _, _ := tx.QuerySpans(store.Filter{Must: []store.Cond{exact("span_id", "s1"), exact("attempt_id", "a1"), exact("rollout_id", "r1")}}, store.AllPage())
		require.Len(t, spans, 1)
		assert.Equal(t, "r1/a1/s1", spans[0].Name, "the first copy is kept")
		return nil
	})
}

func TestSpanQueries(t *testing.T) {
	b := New()
	update(t, b, func(tx store.Tx) error {
		_, err := tx.InsertSpans([]model.Span{
			{RolloutID: "r1", AttemptID: "a1", SpanID: "s-a", SequenceID: 3, TraceID: "t1", Name: "plan"},
			{RolloutID: "r1", AttemptID: "a1", SpanID: "s-b", SequenceID: 1, TraceID: "t1", Name: "run", ParentID: model.Ptr("s-a")},
			{RolloutID: "r2", AttemptID: "a1", SpanID: "s-x", SequenceID: 1, TraceID: "t1", Name: "plan"},
			{RolloutID: "r1", AttemptID: "a2", SpanID: "s-c", SequenceID: 3, TraceID: "t2", Name: "phase"},
			{RolloutID: "r1", AttemptID: "a2", SpanID: "s-d", SequenceID: 1, TraceID: "t2", Name: "phase", ParentID: model.Ptr("s-c")},
		})
		return err
	})
	inR1 := []store.Cond{exact("rollout_id", "r1")}
	tests := []struct {
		name   string
		filter store.Filter
		page   store.Page
		want   []string
	}{
		{name: "default order is sequence then insertion", filter: store.Filter{Must: inR1}, page: store.AllPage(), want: []string{"s-b", "s-d", "s-a", "s-c"}},
		{name: "without a rollout, all spans", page: store.AllPage(), want: []string{"s-b", "s-x", "s-d", "s-a", "s-c"}},
		{name: "attempt", filter: store.Filter{Must: append(inR1, exact("attempt_id", "a2"))}, page: store.AllPage(), want: []string{"s-d", "s-c"}},
		{
			name:   "or stays inside the rollout",
			filter: store.Filter{Must: inR1, Logic: "or", Pool: []store.Cond{exact("name", "plan"), containing("parent_id", "s-c")}},
			page:   store.AllPage(),
			want:   []string{"s-d", "s-a"},
		},
		{
			name:   "sorted ties follow insertion order",
			filter: store.Filter{Must: inR1},
			page:   store.Page{SortBy: model.Ptr("trace_id"), SortOrder: "desc", Limit: -1},
			want:   []string{"s-c", "s-d", "s-a", "s-b"},
		},
		{
			name:   "sequence desc with ties",
			filter: store.Filter{Must: inR1},
			page:   store.Page{SortBy: model.Ptr("sequence_id"), SortOrder: "desc", Limit: -1},
			want:   []string{"s-a", "s-c", "s-b", "s-d"},
		},
		{name: "unknown rollout", filter: store.Filter{Must: []store.Cond{exact("rollout_id", "nope")}}, page: store.AllPage(), want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, spanIDs(t, b, tt.filter, tt.page))
		})
	}
}

func TestAttempts(t *testing.T) {
	b := New()
	update(t, b, func(tx store.Tx) error {
		for _, a := range []model.Attempt{
			{RolloutID: "r1", AttemptID: "a2", SequenceID: 2, StartTime: 20},
			{RolloutID: "r1", AttemptID: "a1", SequenceID: 1, StartTime: 10},
			{RolloutID: "r1", AttemptID: "a3", SequenceID: 3, StartTime: 30},
			{RolloutID: "r2", AttemptID: "b1", SequenceID: 1},
		} {
			require.NoError(t, tx.InsertAttempt(&a))
		}
		err := tx.InsertAttempt(&model.Attempt{RolloutID: "r1", AttemptID: "a1"})
		require.Error(t, err, "duplicate attempt")
		err = tx.UpdateAttempt(&model.Attempt{RolloutID: "r1", AttemptID: "zz"})
		require.Error(t, err, "unknown attempt")
		return nil
	})
	view(t, b, func(tx store.Tx) error {
		n, _ := tx.CountAttempts("r1")
		assert.Equal(t, 3, n)
		n, _ = tx.CountAttempts("none")
		assert.Equal(t, 0, n)

		latest, err := tx.LatestAttempts([]string{"r1", "r2", "none"})
		require.NoError(t, err)
		require.Len(t, latest, 2)
		assert.Equal(t, "a3", latest["r1"].AttemptID)
		assert.Equal(t, "b1", latest["r2"].AttemptID)

		ids := func(p store.Page) []string {
			as, total, err := tx.QueryAttempts("r1", p)
			require.NoError(t, err)
			assert.Equal(t, 3, total)
			out := []string{}
			for _, a := range as {
				out = append(out, a.AttemptID)
			}
			return out
		}
		assert.Equal(t, []string{"a1", "a2", "a3"}, ids(store.AllPage()))
		assert.Equal(t, []string{"a3", "a2", "a1"}, ids(store.Page{SortBy: model.Ptr("sequence_id"), SortOrder: "desc", Limit: -1}))
		assert.Equal(t, []string{"a2"}, ids(store.Page{SortBy: model.Ptr("start_time"), SortOrder: "desc", Limit: 1, Offset: 1}))
		assert.Equal(t, []string{}, ids(store.Page{Limit: -1, Offset: 10}))
		assert.Equal(t, []string{}, ids(store.Page{Limit: 0}))

		as, total, err := tx.QueryAttempts("none", store.AllPage())
		require.NoError(t, err)
		assert.Empty(t, as)
		assert.Zero(t, total)
		return nil
	})
}

func TestRolloutsCRUD(t *testing.T) {
	b := seedRollouts(t)
	update(t, b, func(tx store.Tx) error {
		var se *store.Error
		require.ErrorAs(t, tx.InsertRollout(rollout("r1", model.RolloutQueuing, 0, nil, nil)), &se)
		require.ErrorAs(t, tx.UpdateRollout(rollout("nope", model.RolloutQueuing, 0, nil, nil)), &se)
		assert.Equal(t, "Item does not exist with primary key(s): rollout_id='nope'", se.Message)

		r, err := tx.GetRollout("nope")
		require.NoError(t, err)
		assert.Nil(t, r)

		r4, _ := tx.GetRollout("r4")
		r4.Status = model.RolloutPreparing
		r4.Config.UnresponsiveSeconds = model.Ptr(30.0)
		require.NoError(t, tx.UpdateRollout(r4))
		r3, _ := tx.GetRollout("r3")
		r3.Config.TimeoutSeconds = model.Ptr(60.0)
		require.NoError(t, tx.UpdateRollout(r3))
		r1, _ := tx.GetRollout("r1")
		r1.Status = model.RolloutRunning // active but without limits
		require.NoError(t, tx.UpdateRollout(r1))

		watched, err := tx.WatchedRollouts()
		require.NoError(t, err)
		var ids []string
		for _, r := range watched {
			ids = append(ids, r.RolloutID)
		}
		assert.Equal(t, []string{"r3", "r4"}, ids, "insertion order; an update keeps the position")
		return nil
	})
}

func TestResources(t *testing.T) {
	b := New()
	view(t, b, func(tx store.Tx) error {
		latest, err := tx.LatestResources()
		require.NoError(t, err)
		assert.Nil(t, latest)
		got, err := tx.GetResources("any")
		require.NoError(t, err)
		assert.Nil(t, got)
		return nil
	})
	put := func(id string, updateTime float64, version int) {
		update(t, b, func(tx store.Tx) error {
			return tx.PutResources(&model.ResourcesUpdate{ResourcesID: id, UpdateTime: updateTime, Version: version})
		})
	}
	latestID := func() string {
		var id string
		view(t, b, func(tx store.Tx) error {
			latest, err := tx.LatestResources()
			require.NoError(t, err)
			id = latest.ResourcesID
			return nil
		})
		return id
	}
	put("rs-a", 10, 1)
	assert.Equal(t, "rs-a", latestID())
	put("rs-b", 10, 1)
	assert.Equal(t, "rs-b", latestID(), "update_time tie: the last write wins")
	put("rs-a", 10, 2)
	assert.Equal(t, "rs-a", latestID(), "update_time tie after an upsert: the last write wins")
	put("rs-b", 20, 2)
	assert.Equal(t, "rs-b", latestID())
	put("rs-c", 5, 1)
	assert.Equal(t, "rs-b", latestID(), "an older update_time does not win")

	view(t, b, func(tx store.Tx) error {
		rs, total, err := tx.QueryResources(store.Filter{}, store.AllPage())
		require.NoError(t, err)
		assert.Equal(t, 3, total)
		require.Len(t, rs, 3)
		assert.Equal(t, []string{"rs-a", "rs-b", "rs-c"}, []string{rs[0].ResourcesID, rs[1].ResourcesID, rs[2].ResourcesID}, "upsert keeps the first position")
		assert.Equal(t, []int{2, 2, 1}, []int{rs[0].Version, rs[1].Version, rs[2].Version})

		rs, _, err = tx.QueryResources(store.Filter{Must: []store.Cond{exact("resources_id", "rs-b"), containing("resources_id", "b")}}, store.AllPage())
		require.NoError(t, err)
		require.Len(t, rs, 1)
		assert.Equal(t, "rs-b", rs[0].ResourcesID)
		return nil
	})
}

func TestWorkers(t *testing.T) {
	b := New()
	update(t, b, func(tx store.Tx) error {
		require.NoError(t, tx.PutWorker(&model.Worker{WorkerID: "cpu-worker", Status: model.WorkerBusy}))
		require.NoError(t, tx.PutWorker(&model.Worker{WorkerID: "beta", Status: model.WorkerIdle, LastIdleTime: model.Ptr(3.0)}))
		require.NoError(t, tx.PutWorker(&model.Worker{WorkerID: "busy-worker", Status: model.WorkerBusy, LastIdleTime: model.Ptr(1.0)}))
		require.NoError(t, tx.PutWorker(&model.Worker{WorkerID: "cpu-worker", Status: model.WorkerIdle}))
		return nil
	})
	view(t, b, func(tx store.Tx) error {
		w, err := tx.GetWorker("cpu-worker")
		require.NoError(t, err)
		assert.Equal(t, model.WorkerIdle, w.Status)
		w, err = tx.GetWorker("missing")
		require.NoError(t, err)
		assert.Nil(t, w)

		ws, total, err := tx.QueryWorkers(
			store.Filter{Logic: "or", Pool: []store.Cond{within("status", "busy"), containing("worker_id", "cpu")}},
			store.Page{SortBy: model.Ptr("worker_id"), SortOrder: "asc", Limit: -1})
		require.NoError(t, err)
		assert.Equal(t, 2, total)
		assert.Equal(t, "busy-worker", ws[0].WorkerID)
		assert.Equal(t, "cpu-worker", ws[1].WorkerID)

		ws, _, err = tx.QueryWorkers(store.Filter{}, store.Page{SortBy: model.Ptr("last_idle_time"), SortOrder: "asc", Limit: -1})
		require.NoError(t, err)
		assert.Equal(t, []string{"busy-worker", "beta", "cpu-worker"}, []string{ws[0].WorkerID, ws[1].WorkerID, ws[2].WorkerID})
		return nil
	})
}

func TestTriplets(t *testing.T) {
	b := New()
	rec := func(attempt string, index, revision int) model.TripletRecord {
		return model.TripletRecord{RolloutID: "r1", AttemptID: attempt, Index: index, Revision: revision}
	}
	type key struct {
		attempt         string
		index, revision int
	}
	keys := func(ts []model.TripletRecord) []key {
		out := []key{}
		for _, r := range ts {
			out = append(out, key{r.AttemptID, r.Index, r.Revision})
		}
		return out
	}
	update(t, b, func(tx store.Tx) error {
		steps := []struct {
			attempt  string
			revision int
			records  []model.TripletRecord
			replaced bool
		}{
			{"a2", 1, []model.TripletRecord{rec("a2", 1, 1), rec("a2", 0, 1)}, true},
			{"a1", 2, []model.TripletRecord{rec("a1", 0, 2)}, true},
			{"a1", 1, []model.TripletRecord{rec("a1", 0, 1), rec("a1", 1, 1)}, false}, // older revision
			{"a1", 2, []model.TripletRecord{rec("a1", 1, 2), rec("a1", 0, 2)}, true},  // same revision replaces
			{"a2", 3, []model.TripletRecord{rec("a2", 0, 3)}, true},
		}
		for i, s := range steps {
			got, err := tx.ReplaceTriplets("r1", s.attempt, s.revision, s.records)
			require.NoError(t, err)
			assert.Equal(t, s.replaced, got, "step %d", i)
		}
		return nil
	})
	view(t, b, func(tx store.Tx) error {
		ts, err := tx.QueryTriplets("r1", "a1")
		require.NoError(t, err)
		assert.Equal(t, []key{{"a1", 0, 2}, {"a1", 1, 2}}, keys(ts))
		ts, err = tx.QueryTriplets("r1", "")
		require.NoError(t, err)
		assert.Equal(t, []key{{"a1", 0, 2}, {"a1", 1, 2}, {"a2", 0, 3}}, keys(ts), "attempts unknown to the store: by id")
		ts, err = tx.QueryTriplets("none", "")
		require.NoError(t, err)
		assert.NotNil(t, ts)
		assert.Empty(t, ts)
		c, _ := tx.Counts()
		assert.Equal(t, 3, c.Triplets)
		return nil
	})

	t.Run("a rollout's triplets follow attempt sequence", func(t *testing.T) {
		update(t, b, func(tx store.Tx) error {
			require.NoError(t, tx.InsertAttempt(&model.Attempt{RolloutID: "r2", AttemptID: "zz", SequenceID: 1}))
			require.NoError(t, tx.InsertAttempt(&model.Attempt{RolloutID: "r2", AttemptID: "aa", SequenceID: 2}))
			for _, a := range []string{"aa", "zz", "unknown"} {
				// The records claim another place; the store files them
				// under the attempt and revision given.
				_, err := tx.ReplaceTriplets("r2", a, 4, []model.TripletRecord{{RolloutID: "x", AttemptID: "y", Revision: 1}})
				require.NoError(t, err)
			}
			ts, err := tx.QueryTriplets("r2", "")
			require.NoError(t, err)
			assert.Equal(t, []key{{"unknown", 0, 4}, {"zz", 0, 4}, {"aa", 0, 4}}, keys(ts))
			for _, r := range ts {
				assert.Equal(t, "r2", r.RolloutID)
				assert.JSONEq(t, "null", string(r.Triplet.Prompt))
			}
			return nil
		})
	})
}

func TestMessages(t *testing.T) {
	b := New()
	update(t, b, func(tx store.Tx) error {
		return tx.InsertMessages([]model.MessageRecord{
			{RolloutID: "r1", AttemptID: "a1", SpanID: "m1", SequenceID: 2},
			{RolloutID: "r1", AttemptID: "a2", SpanID: "m2", SequenceID: 1},
			{RolloutID: "r2", AttemptID: "a1", SpanID: "m3", SequenceID: 1},
			{RolloutID: "r1", AttemptID: "a1", SpanID: "m4", SequenceID: 1},
			{RolloutID: "r1", AttemptID: "a1", SpanID: "m5", SequenceID: 2},
		})
	})
	ids := func(rollout, attempt string) []string {
		out := []string{}
		view(t, b, func(tx store.Tx) error {
			ms, err := tx.QueryMessages(rollout, attempt)
			require.NoError(t, err)
			for _, m := range ms {
				out = append(out, m.SpanID)
			}
			return nil
		})
		return out
	}
	assert.Equal(t, []string{"m4", "m1", "m5"}, ids("r1", "a1"))
	assert.Equal(t, []string{"m2", "m4", "m1", "m5"}, ids("r1", ""))
	assert.Equal(t, []string{"m3"}, ids("r2", ""))
	assert.Equal(t, []string{}, ids("r3", ""))
}

func TestTransactionGuards(t *testing.T) {
	b := New()
	assert.Equal(t, "InMemoryLightningStore", b.Name())

	t.Run("view is read-only", func(t *testing.T) {
		err := b.View(context.Background(), func(tx store.Tx) error {
			return tx.InsertRollout(rollout("r1", model.RolloutQueuing, 0, nil, nil))
		})
		require.ErrorIs(t, err, errReadOnly)
		err = b.View(context.Background(), func(tx store.Tx) error {
			_, err := tx.QueuePop(1)
			return err
		})
		require.ErrorIs(t, err, errReadOnly)
	})

	t.Run("a finished transaction refuses use", func(t *testing.T) {
		var leaked store.Tx
		update(t, b, func(tx store.Tx) error { leaked = tx; return nil })
		_, err := leaked.GetRollout("r1")
		require.ErrorIs(t, err, errTxDone)
		require.ErrorIs(t, leaked.QueuePush("r1"), errTxDone)
	})

	t.Run("a cancelled context runs nothing", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		ran := false
		err := b.Update(ctx, func(store.Tx) error { ran = true; return nil })
		require.ErrorIs(t, err, context.Canceled)
		err = b.View(ctx, func(store.Tx) error { ran = true; return nil })
		require.ErrorIs(t, err, context.Canceled)
		assert.False(t, ran)
	})

	t.Run("closed", func(t *testing.T) {
		require.NoError(t, b.Close())
		require.ErrorIs(t, b.Update(context.Background(), func(store.Tx) error { return nil }), store.ErrClosed)
		require.ErrorIs(t, b.View(context.Background(), func(store.Tx) error { return nil }), store.ErrClosed)
	})
}

func TestConcurrentUpdatesSerialise(t *testing.T) {
	// Each writer reads the counter and writes it back plus one; lost
	// updates would show as a final value below the number of writers.
	b := New()
	const writers = 50
	errs := make(chan error, writers)
	for i := 0; i < writers; i++ {
		go func() {
			errs <- b.Update(context.Background(), func(tx store.Tx) error {
				_, err := tx.SeqIncrement("r", 1)
				return err
			})
		}()
	}
	for i := 0; i < writers; i++ {
		require.NoError(t, <-errs)
	}
	update(t, b, func(tx store.Tx) error {
		v, err := tx.SeqIncrement("r", 0)
		require.NoError(t, err)
		assert.Equal(t, writers, v)
		return nil
	})
}

// TestDeleteRolloutRollsBack: a rolled-back DeleteRollout (v1.0's DELETE)
// leaves the rollout and everything under it as it was, and a committed
// one removes all of it.
func TestDeleteRolloutRollsBack(t *testing.T) {
	b := seedEverything(t)
	update(t, b, func(tx store.Tx) error {
		return tx.PutRolloutExt(&model.RolloutExt{RolloutID: "r1", API: model.APIv1, Version: 3})
	})
	before := snapshot(t, b)
	boom := errors.New("boom")
	err := b.Update(context.Background(), func(tx store.Tx) error {
		require.NoError(t, tx.DeleteRollout("r1"))
		r, err := tx.GetRollout("r1")
		require.NoError(t, err)
		require.Nil(t, r)
		return boom
	})
	require.ErrorIs(t, err, boom)
	assert.Equal(t, before, snapshot(t, b))
	view(t, b, func(tx store.Tx) error {
		e, err := tx.GetRolloutExt("r1")
		require.NoError(t, err)
		assert.Equal(t, 3, e.Version)
		return nil
	})

	update(t, b, func(tx store.Tx) error { return tx.DeleteRollout("r1") })
	view(t, b, func(tx store.Tx) error {
		r, err := tx.GetRollout("r1")
		require.NoError(t, err)
		assert.Nil(t, r)
		spans, total, err := tx.QuerySpans(store.Filter{Must: []store.Cond{exact("rollout_id", "r1")}}, store.AllPage())
		require.NoError(t, err)
		assert.Zero(t, total)
		assert.Empty(t, spans)
		ts, err := tx.QueryTriplets("r1", "")
		require.NoError(t, err)
		assert.Empty(t, ts)
		ms, err := tx.QueryMessages("r1", "")
		require.NoError(t, err)
		assert.Empty(t, ms)
		q, err := tx.QueueContains("r1")
		require.NoError(t, err)
		assert.False(t, q)
		e, err := tx.GetRolloutExt("r1")
		require.NoError(t, err)
		assert.Nil(t, e)
		n, err := tx.Counts()
		require.NoError(t, err)
		assert.Equal(t, before["counts"].(store.Counts).Rollouts-1, n.Rollouts)
		return nil
	})
	assert.Equal(t, []string{"r2"}, drainQueue(t, b))
}
