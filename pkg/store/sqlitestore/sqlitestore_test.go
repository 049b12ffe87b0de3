package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/sqlstore"
)

func openAt(t testing.TB, path string, opts ...Option) store.Backend {
	t.Helper()
	b, err := Open(path, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func openTemp(t testing.TB, opts ...Option) store.Backend {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "store.db"), opts...)
}

func update(t testing.TB, b store.Backend, fn func(store.Tx) error) {
	t.Helper()
	require.NoError(t, b.Update(context.Background(), fn))
}

func view(t testing.TB, b store.Backend, fn func(store.Tx) error) {
	t.Helper()
	require.NoError(t, b.View(context.Background(), fn))
}

func rollout(id string, status model.RolloutStatus, start float64) *model.Rollout {
	return &model.Rollout{
		RolloutID: id, Input: json.RawMessage(`{"q":"` + id + `"}`), StartTime: start, Status: status,
		Config: model.DefaultRolloutConfig(), Metadata: json.RawMessage(`{}`),
	}
}

func attempt(rolloutID, attemptID string, seq int) *model.Attempt {
	return &model.Attempt{
		RolloutID: rolloutID, AttemptID: attemptID, SequenceID: seq, StartTime: float64(seq),
		Status: model.AttemptPreparing, Metadata: json.RawMessage(`{}`),
	}
}

func span(rolloutID, attemptID, spanID string, seq int) model.Span {
	return model.Span{
		RolloutID: rolloutID, AttemptID: attemptID, SequenceID: seq, TraceID: "trace-1", SpanID: spanID,
		Name: "span " + spanID, Status: model.TraceStatus{StatusCode: model.StatusOK},
	}
}

func rolloutIDs(rs []model.Rollout) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.RolloutID
	}
	return out
}

func spanIDs(ss []model.Span) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.SpanID
	}
	return out
}

func TestName(t *testing.T) {
	assert.Equal(t, "SQLiteLightningStore", openTemp(t).Name())
}

// TestQueryRollouts checks the SQL translation of filters, sorts and pages
// against hand-computed results, nulls and ties included.
func TestQueryRollouts(t *testing.T) {
	b := openTemp(t)
	type row struct {
		id       string
		status   model.RolloutStatus
		start    float64
		end      *float64
		mode     *model.RolloutMode
		res      *string
		metadata string
	}
	rows := []row{
		{id: "ro-a%1", status: model.RolloutQueuing, start: 10, mode: model.Ptr(model.ModeTrain), metadata: `{"k":2}`},
		{id: "ro-b_2", status: model.RolloutRunning, start: 20, end: model.Ptr(5.0), metadata: `{"k":1}`},
		{id: "ro-c3", status: model.RolloutSucceeded, start: 20, end: model.Ptr(3.0), mode: model.Ptr(model.ModeVal), res: model.Ptr("rs-1")},
		{id: "ro-d4", status: model.RolloutQueuing, start: 5},
		{id: "ro-x%", status: model.RolloutFailed, start: 30, end: model.Ptr(3.0), mode: model.Ptr(model.ModeTrain)},
	}
	update(t, b, func(tx store.Tx) error {
		for _, r := range rows {
			ro := rollout(r.id, r.status, r.start)
			ro.EndTime, ro.Mode, ro.ResourcesID = r.end, r.mode, r.res
			ro.Metadata = nil
			if r.metadata != "" {
				ro.Metadata = json.RawMessage(r.metadata)
			}
			if err := tx.InsertRollout(ro); err != nil {
				return err
			}
		}
		return nil
	})

	exact := func(field, v string) store.Cond { return store.Cond{Field: field, Op: store.OpExact, Value: v} }
	within := func(field string, vs ...string) store.Cond {
		return store.Cond{Field: field, Op: store.OpWithin, Values: append([]string{}, vs...)}
	}
	contains := func(field, v string) store.Cond { return store.Cond{Field: field, Op: store.OpContains, Value: v} }
	all := store.AllPage()
	sorted := func(field, order string) store.Page {
		return store.Page{SortBy: &field, SortOrder: order, Limit: -1}
	}
	paged := func(limit, offset int) store.Page {
		return store.Page{SortOrder: store.SortAsc, Limit: limit, Offset: offset}
	}

	tests := []struct {
		name  string
		f     store.Filter
		p     store.Page
		want  []string
		total int
	}{
		{"no filter keeps insertion order", store.Filter{}, all, []string{"ro-a%1", "ro-b_2", "ro-c3", "ro-d4", "ro-x%"}, 5},
		{"within nothing matches nothing", store.Filter{Pool: []store.Cond{within("status")}}, all, []string{}, 0},
		{"within", store.Filter{Pool: []store.Cond{within("status", "queuing", "running")}}, all, []string{"ro-a%1", "ro-b_2", "ro-d4"}, 3},
		{"exact", store.Filter{Pool: []store.Cond{exact("rollout_id", "ro-c3")}}, all, []string{"ro-c3"}, 1},
		{"or pool", store.Filter{Logic: store.LogicOr, Pool: []store.Cond{within("status", "failed"), contains("rollout_id", "c3")}}, all, []string{"ro-c3", "ro-x%"}, 2},
		{"and pool", store.Filter{Logic: store.LogicAnd, Pool: []store.Cond{within("status", "queuing"), contains("rollout_id", "d")}}, all, []string{"ro-d4"}, 1},
		{"empty logic is and", store.Filter{Pool: []store.Cond{within("status", "queuing"), contains("rollout_id", "d")}}, all, []string{"ro-d4"}, 1},
		{"contains percent literally", store.Filter{Pool: []store.Cond{contains("rollout_id", "%")}}, all, []string{"ro-a%1", "ro-x%"}, 2},
		{"contains underscore literally", store.Filter{Pool: []store.Cond{contains("rollout_id", "_")}}, all, []string{"ro-b_2"}, 1},
		{"contains is case-sensitive", store.Filter{Pool: []store.Cond{contains("rollout_id", "RO")}}, all, []string{}, 0},
		{"contains never matches null", store.Filter{Pool: []store.Cond{contains("resources_id", "")}}, all, []string{"ro-c3"}, 1},
		{"must is anded on an or pool", store.Filter{
			Must: []store.Cond{within("status", "queuing")}, Logic: store.LogicOr,
			Pool: []store.Cond{contains("rollout_id", "a"), contains("rollout_id", "x")},
		}, all, []string{"ro-a%1"}, 1},
		{"time asc puts nulls last, ties by insertion", store.Filter{}, sorted("end_time", "asc"), []string{"ro-c3", "ro-x%", "ro-b_2", "ro-a%1", "ro-d4"}, 5},
		{"time desc puts nulls first, ties by insertion", store.Filter{}, sorted("end_time", "desc"), []string{"ro-a%1", "ro-d4", "ro-b_2", "ro-c3", "ro-x%"}, 5},
		{"string asc sorts null as empty", store.Filter{}, sorted("mode", "asc"), []string{"ro-b_2", "ro-d4", "ro-a%1", "ro-x%", "ro-c3"}, 5},
		{"string desc sorts null as empty", store.Filter{}, sorted("mode", "desc"), []string{"ro-c3", "ro-a%1", "ro-x%", "ro-b_2", "ro-d4"}, 5},
		{"non-null desc keeps ties ascending", store.Filter{}, sorted("start_time", "desc"), []string{"ro-x%", "ro-b_2", "ro-c3", "ro-a%1", "ro-d4"}, 5},
		{"empty order is asc", store.Filter{}, sorted("start_time", ""), []string{"ro-d4", "ro-a%1", "ro-b_2", "ro-c3", "ro-x%"}, 5},
		{"json field sorts by its text", store.Filter{}, sorted("metadata", "asc"), []string{"ro-c3", "ro-d4", "ro-x%", "ro-b_2", "ro-a%1"}, 5},
		{"sort with filter", store.Filter{Pool: []store.Cond{within("status", "queuing", "failed")}}, sorted("start_time", "desc"), []string{"ro-x%", "ro-a%1", "ro-d4"}, 3},
		{"limit and offset", store.Filter{}, paged(2, 1), []string{"ro-b_2", "ro-c3"}, 5},
		{"limit 0 gives no items but the total", store.Filter{}, paged(0, 0), []string{}, 5},
		{"offset past the end", store.Filter{}, paged(2, 10), []string{}, 5},
		{"limit -1 with offset", store.Filter{}, paged(-1, 3), []string{"ro-d4", "ro-x%"}, 5},
		{"short last page", store.Filter{}, paged(2, 4), []string{"ro-x%"}, 5},
		{"full page counts the rest", store.Filter{Pool: []store.Cond{within("status", "queuing")}}, paged(1, 0), []string{"ro-a%1"}, 2},
		{"sorted page", store.Filter{}, store.Page{SortBy: model.Ptr("end_time"), SortOrder: "desc", Limit: 2, Offset: 1}, []string{"ro-d4", "ro-b_2"}, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			view(t, b, func(tx store.Tx) error {
				items, total, err := tx.QueryRollouts(tc.f, tc.p)
				require.NoError(t, err)
				assert.Equal(t, tc.want, rolloutIDs(items))
				assert.Equal(t, tc.total, total)
				for _, it := range items {
					assert.Nil(t, it.Attempt)
				}
				return nil
			})
		})
	}

	invalid := []struct {
		name string
		f    store.Filter
		p    store.Page
	}{
		{"unknown sort field", store.Filter{}, store.Page{SortBy: model.Ptr("attempt"), Limit: -1}},
		{"unknown sort order", store.Filter{}, store.Page{SortBy: model.Ptr("status"), SortOrder: "up", Limit: -1}},
		{"unknown filter field", store.Filter{Pool: []store.Cond{exact("nope", "x")}}, all},
		{"unknown filter field in must", store.Filter{Must: []store.Cond{exact("nope", "x")}}, all},
		{"unknown logic", store.Filter{Logic: "xor", Pool: []store.Cond{exact("status", "x")}}, all},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			err := b.View(context.Background(), func(tx store.Tx) error {
				_, _, err := tx.QueryRollouts(tc.f, tc.p)
				return err
			})
			var ia *store.InvalidArgumentError
			require.ErrorAs(t, err, &ia)
		})
	}
}

func TestSpans(t *testing.T) {
	b := openTemp(t)
	// Unknown keys at the top level and inside the context must survive.
	var withExtras model.Span
	require.NoError(t, json.Unmarshal([]byte(`{"rollout_id":"ro-1","attempt_id":"at-1","sequence_id":2,
		"trace_id":"t","span_id":"s-extra","parent_id":null,"name":"extra","status":{"status_code":"OK","description":null},
		"attributes":{"n":1,"f":1.5,"l":["a","b"]},"events":[],"links":[],"start_time":null,"end_time":1.25,
		"context":{"trace_id":"t","span_id":"s-extra","is_remote":false,"trace_state":{},"vendor":"x"},
		"parent":null,"resource":{"attributes":{},"schema_url":""},"custom_key":{"a":[1,2]}}`), &withExtras))
	in := []model.Span{
		span("ro-1", "at-1", "s1", 3),
		span("ro-1", "at-1", "s2", 1),
		withExtras,
		span("ro-1", "at-1", "s3", 1),
		span("ro-1", "at-2", "s1", 1), // same span id, other attempt: not a duplicate
		span("ro-2", "at-1", "s1", 1),
	}
	in[0].StartTime = model.Ptr(5.0)
	in[1].StartTime = model.Ptr(7.0)
	in[1].ParentID = model.Ptr("s1")

	update(t, b, func(tx store.Tx) error {
		stored, err := tx.InsertSpans(in)
		require.NoError(t, err)
		assert.Equal(t, []bool{true, true, true, true, true, true}, stored)
		// Duplicates within the batch and against stored rows are reported
		// per span; the new ones among them are stored.
		stored, err = tx.InsertSpans([]model.Span{span("ro-1", "at-1", "s1", 9), span("ro-1", "at-1", "s4", 4), span("ro-1", "at-1", "s4", 4)})
		require.NoError(t, err)
		assert.Equal(t, []bool{false, true, false}, stored)
		return nil
	})

	rollout1 := store.Filter{Must: []store.Cond{{Field: "rollout_id", Op: store.OpExact, Value: "ro-1"}}}
	attempt1 := store.Filter{Must: []store.Cond{
		{Field: "rollout_id", Op: store.OpExact, Value: "ro-1"},
		{Field: "attempt_id", Op: store.OpExact, Value: "at-1"},
	}}
	view(t, b, func(tx store.Tx) error {
		items, total, err := tx.QuerySpans(attempt1, store.AllPage())
		require.NoError(t, err)
		assert.Equal(t, 5, total)
		assert.Equal(t, []string{"s2", "s3", "s-extra", "s1", "s4"}, spanIDs(items), "sequence_id, then insertion")
		assert.Equal(t, "s1", *items[0].ParentID)

		got := items[2]
		wantJSON, err := json.Marshal(withExtras)
		require.NoError(t, err)
		gotJSON, err := json.Marshal(got)
		require.NoError(t, err)
		assert.JSONEq(t, string(wantJSON), string(gotJSON))
		assert.Contains(t, string(gotJSON), `"custom_key":{"a":[1,2]}`)
		assert.Contains(t, string(gotJSON), `"vendor":"x"`)

		items, _, err = tx.QuerySpans(rollout1, store.Page{SortBy: model.Ptr("start_time"), SortOrder: "asc", Limit: -1})
		require.NoError(t, err)
		assert.Equal(t, []string{"s1", "s2", "s-extra", "s3", "s1", "s4"}, spanIDs(items), "null start_time last")

		items, total, err = tx.QuerySpans(store.Filter{
			Must: rollout1.Must, Logic: store.LogicOr,
			Pool: []store.Cond{{Field: "name", Op: store.OpContains, Value: "extra"}, {Field: "parent_id", Op: store.OpExact, Value: "s1"}},
		}, store.AllPage())
		require.NoError(t, err)
		assert.Equal(t, 2, total)
		assert.Equal(t, []string{"s2", "s-extra"}, spanIDs(items))

		items, _, err = tx.QuerySpans(store.Filter{
			Must: rollout1.Must,
			Pool: []store.Cond{{Field: "sequence_id", Op: store.OpExact, Value: "1"}},
		}, store.AllPage())
		require.NoError(t, err)
		assert.Equal(t, []string{"s2", "s3", "s1"}, spanIDs(items), "numeric exact")
		return nil
	})
}

func TestRolloutsAndAttempts(t *testing.T) {
	b := openTemp(t)
	update(t, b, func(tx store.Tx) error {
		for _, id := range []string{"ro-1", "ro-2", "ro-3"} {
			require.NoError(t, tx.InsertRollout(rollout(id, model.RolloutQueuing, 1)))
		}
		var se *store.Error
		require.ErrorAs(t, tx.InsertRollout(rollout("ro-1", model.RolloutQueuing, 1)), &se)
		assert.Equal(t, "ValueError", se.Type)

		require.NoError(t, tx.InsertAttempt(attempt("ro-1", "at-2", 2)))
		require.NoError(t, tx.InsertAttempt(attempt("ro-1", "at-1", 1)))
		require.NoError(t, tx.InsertAttempt(attempt("ro-2", "at-9", 1)))
		require.ErrorAs(t, tx.InsertAttempt(attempt("ro-1", "at-1", 1)), &se)
		require.ErrorAs(t, tx.UpdateAttempt(attempt("ro-1", "at-x", 1)), &se)
		assert.Equal(t, "Attempt at-x not found for rollout ro-1", se.Message)
		require.ErrorAs(t, tx.UpdateRollout(rollout("ro-x", model.RolloutRunning, 1)), &se)
		assert.Equal(t, "Item does not exist with primary key(s): rollout_id='ro-x'", se.Message)

		r := rollout("ro-2", model.RolloutRunning, 1)
		r.Config.TimeoutSeconds = model.Ptr(60.0)
		r.Attempt = attempt("ro-2", "at-9", 1) // never stored with the rollout
		require.NoError(t, tx.UpdateRollout(r))
		require.NoError(t, tx.UpdateRollout(rollout("ro-3", model.RolloutRunning, 1)), "active, no limits")
		a := attempt("ro-2", "at-9", 1)
		a.Status, a.WorkerID, a.LastHeartbeatTime = model.AttemptRunning, model.Ptr("w-1"), model.Ptr(3.5)
		require.NoError(t, tx.UpdateAttempt(a))
		return nil
	})
	view(t, b, func(tx store.Tx) error {
		r, err := tx.GetRollout("ro-2")
		require.NoError(t, err)
		assert.Equal(t, model.RolloutRunning, r.Status)
		assert.Nil(t, r.Attempt)
		missing, err := tx.GetRollout("ro-x")
		require.NoError(t, err)
		assert.Nil(t, missing)

		watched, err := tx.WatchedRollouts()
		require.NoError(t, err)
		assert.Equal(t, []string{"ro-2"}, rolloutIDs(watched), "active with limits")

		a, err := tx.GetAttempt("ro-2", "at-9")
		require.NoError(t, err)
		assert.Equal(t, model.AttemptRunning, a.Status)
		assert.Equal(t, "w-1", *a.WorkerID)
		noAttempt, err := tx.GetAttempt("ro-2", "at-1")
		require.NoError(t, err)
		assert.Nil(t, noAttempt)

		latest, err := tx.LatestAttempts([]string{"ro-1", "ro-2", "ro-3"})
		require.NoError(t, err)
		require.Len(t, latest, 2)
		assert.Equal(t, "at-2", latest["ro-1"].AttemptID)
		assert.Equal(t, "at-9", latest["ro-2"].AttemptID)

		n, err := tx.CountAttempts("ro-1")
		require.NoError(t, err)
		assert.Equal(t, 2, n)

		as, total, err := tx.QueryAttempts("ro-1", store.AllPage())
		require.NoError(t, err)
		assert.Equal(t, 2, total)
		assert.Equal(t, "at-1", as[0].AttemptID, "sequence_id order by default")
		assert.Equal(t, "at-2", as[1].AttemptID)
		as, _, err = tx.QueryAttempts("ro-1", store.Page{SortBy: model.Ptr("sequence_id"), SortOrder: "desc", Limit: 1})
		require.NoError(t, err)
		assert.Equal(t, "at-2", as[0].AttemptID)
		return nil
	})
}

func TestLatestAttemptsManyRollouts(t *testing.T) {
	b := openTemp(t)
	const n = 1200 // more than one chunk of bound ids
	ids := make([]string, n)
	update(t, b, func(tx store.Tx) error {
		for i := range ids {
			ids[i] = fmt.Sprintf("ro-%04d", i)
			require.NoError(t, tx.InsertAttempt(attempt(ids[i], "at-1", 1)))
			require.NoError(t, tx.InsertAttempt(attempt(ids[i], "at-2", 2)))
		}
		return nil
	})
	view(t, b, func(tx store.Tx) error {
		latest, err := tx.LatestAttempts(ids)
		require.NoError(t, err)
		require.Len(t, latest, n)
		for _, id := range ids {
			assert.Equal(t, "at-2", latest[id].AttemptID)
		}
		return nil
	})
}

func TestQueueAndSequence(t *testing.T) {
	b := openTemp(t)
	update(t, b, func(tx store.Tx) error {
		require.NoError(t, tx.QueuePush("a", "b", "c", "d"))
		ok, err := tx.QueueContains("c")
		require.NoError(t, err)
		assert.True(t, ok)

		ids, err := tx.QueuePop(2)
		require.NoError(t, err)
		assert.Equal(t, []string{"a", "b"}, ids)
		ok, err = tx.QueueContains("a")
		require.NoError(t, err)
		assert.False(t, ok)

		require.NoError(t, tx.QueuePush("e"))
		ids, err = tx.QueuePop(0)
		require.NoError(t, err)
		assert.Empty(t, ids)
		ids, err = tx.QueuePop(10)
		require.NoError(t, err)
		assert.Equal(t, []string{"c", "d", "e"}, ids)
		ids, err = tx.QueuePop(1)
		require.NoError(t, err)
		assert.Empty(t, ids)

		steps := []struct {
			raise, incr, want int
		}{
			{raise: 0, incr: 3, want: 3},
			{raise: 10, incr: 1, want: 11},
			{raise: 5, incr: 1, want: 12},
			{raise: -1, incr: 2, want: 14},
		}
		for _, s := range steps {
			require.NoError(t, tx.SeqRaise("ro-1", s.raise))
			v, err := tx.SeqIncrement("ro-1", s.incr)
			require.NoError(t, err)
			assert.Equal(t, s.want, v)
		}
		require.NoError(t, tx.SeqRaise("ro-2", 7))
		v, err := tx.SeqIncrement("ro-2", 1)
		require.NoError(t, err)
		assert.Equal(t, 8, v)
		return nil
	})
	// A queue emptied in one transaction keeps FIFO order after reopening
	// positions: AUTOINCREMENT never reuses them.
	update(t, b, func(tx store.Tx) error {
		require.NoError(t, tx.QueuePush("f", "g"))
		ids, err := tx.QueuePop(5)
		require.NoError(t, err)
		assert.Equal(t, []string{"f", "g"}, ids)
		return nil
	})
}

func TestResourcesAndWorkers(t *testing.T) {
	b := openTemp(t)
	res := func(id string, update float64, version int) *model.ResourcesUpdate {
		return &model.ResourcesUpdate{ResourcesID: id, CreateTime: 1, UpdateTime: update, Version: version,
			Resources: model.NamedResources{"p": json.RawMessage(`{"resource_type":"prompt_template","template":"hi","engine":"f-string"}`)}}
	}
	latestID := func() string {
		var id string
		view(t, b, func(tx store.Tx) error {
			r, err := tx.LatestResources()
			require.NoError(t, err)
			if r != nil {
				id = r.ResourcesID
			}
			return nil
		})
		return id
	}
	assert.Empty(t, latestID())
	update(t, b, func(tx store.Tx) error { return tx.PutResources(res("rs-1", 10, 1)) })
	update(t, b, func(tx store.Tx) error { return tx.PutResources(res("rs-2", 10, 1)) })
	assert.Equal(t, "rs-2", latestID(), "same update_time: the one written last")
	update(t, b, func(tx store.Tx) error { return tx.PutResources(res("rs-1", 10, 2)) })
	assert.Equal(t, "rs-1", latestID())
	update(t, b, func(tx store.Tx) error { return tx.PutResources(res("rs-3", 5, 1)) })
	assert.Equal(t, "rs-1", latestID(), "greatest update_time wins over write order")

	view(t, b, func(tx store.Tx) error {
		items, total, err := tx.QueryResources(store.Filter{}, store.AllPage())
		require.NoError(t, err)
		assert.Equal(t, 3, total)
		assert.Equal(t, []string{"rs-1", "rs-2", "rs-3"}, []string{items[0].ResourcesID, items[1].ResourcesID, items[2].ResourcesID}, "an upsert keeps its position")
		assert.Equal(t, 2, items[0].Version)
		assert.JSONEq(t, `{"resource_type":"prompt_template","template":"hi","engine":"f-string"}`, string(items[0].Resources["p"]))
		got, err := tx.GetResources("rs-2")
		require.NoError(t, err)
		assert.Equal(t, 1, got.Version)
		return nil
	})

	update(t, b, func(tx store.Tx) error {
		require.NoError(t, tx.PutWorker(&model.Worker{WorkerID: "w-1", Status: model.WorkerUnknown, HeartbeatStats: json.RawMessage(`{"cpu":1}`)}))
		require.NoError(t, tx.PutWorker(&model.Worker{WorkerID: "w-2", Status: model.WorkerIdle}))
		return tx.PutWorker(&model.Worker{WorkerID: "w-1", Status: model.WorkerBusy, CurrentRolloutID: model.Ptr("ro-1"), LastBusyTime: model.Ptr(4.0)})
	})
	view(t, b, func(tx store.Tx) error {
		ws, total, err := tx.QueryWorkers(store.Filter{}, store.AllPage())
		require.NoError(t, err)
		assert.Equal(t, 2, total)
		assert.Equal(t, "w-1", ws[0].WorkerID)
		assert.Equal(t, model.WorkerBusy, ws[0].Status)
		ws, _, err = tx.QueryWorkers(store.Filter{Pool: []store.Cond{{Field: "status", Op: store.OpWithin, Values: []string{"idle"}}}}, store.AllPage())
		require.NoError(t, err)
		require.Len(t, ws, 1)
		assert.Equal(t, "w-2", ws[0].WorkerID)
		ws, _, err = tx.QueryWorkers(store.Filter{}, store.Page{SortBy: model.Ptr("last_busy_time"), SortOrder: "asc", Limit: -1})
		require.NoError(t, err)
		assert.Equal(t, "w-1", ws[0].WorkerID, "null last_busy_time sorts last")
		w, err := tx.GetWorker("w-2")
		require.NoError(t, err)
		assert.Equal(t, model.WorkerIdle, w.Status)
		return nil
	})
}

func TestTripletsAndMessages(t *testing.T) {
	b := openTemp(t)
	trip := func(idx int, span string) model.TripletRecord {
		return model.TripletRecord{RolloutID: "ro-1", Index: idx, SpanID: span,
			Triplet: model.Triplet{Prompt: json.RawMessage(`{"p":1}`), Response: json.RawMessage(`{"r":1}`), Reward: model.Ptr(0.5)}}
	}
	replace := func(attemptID string, revision int, ts ...model.TripletRecord) bool {
		var ok bool
		update(t, b, func(tx store.Tx) error {
			var err error
			ok, err = tx.ReplaceTriplets("ro-1", attemptID, revision, ts)
			return err
		})
		return ok
	}
	query := func(attemptID string) []string {
		var out []string
		view(t, b, func(tx store.Tx) error {
			ts, err := tx.QueryTriplets("ro-1", attemptID)
			require.NoError(t, err)
			out = []string{}
			for _, tr := range ts {
				out = append(out, tr.SpanID)
			}
			return nil
		})
		return out
	}
	update(t, b, func(tx store.Tx) error {
		require.NoError(t, tx.InsertAttempt(attempt("ro-1", "at-b", 1)))
		return tx.InsertAttempt(attempt("ro-1", "at-a", 2))
	})

	assert.True(t, replace("at-a", 2, trip(1, "x1"), trip(0, "x0")))
	assert.Equal(t, []string{"x0", "x1"}, query("at-a"), "ordered by index")
	assert.False(t, replace("at-a", 1, trip(0, "old")), "older revision refused")
	assert.Equal(t, []string{"x0", "x1"}, query("at-a"))
	assert.True(t, replace("at-a", 2, trip(0, "y0")), "same revision replaces")
	assert.Equal(t, []string{"y0"}, query("at-a"))
	assert.True(t, replace("at-a", 2))
	assert.Equal(t, []string{}, query("at-a"))
	assert.False(t, replace("at-a", 1, trip(0, "z0")), "an empty replacement still fences older revisions")
	assert.True(t, replace("at-a", 3, trip(0, "a0"), trip(1, "a1")))
	assert.True(t, replace("at-b", 1, trip(0, "b0")))
	assert.Equal(t, []string{"b0", "a0", "a1"}, query(""), "all attempts, by attempt sequence then index")

	msg := func(attemptID, spanID string, seq int) model.MessageRecord {
		return model.MessageRecord{RolloutID: "ro-1", AttemptID: attemptID, TraceID: "t", SpanID: spanID, SequenceID: seq,
			Body: json.RawMessage(`{"messages":[]}`)}
	}
	update(t, b, func(tx store.Tx) error {
		return tx.InsertMessages([]model.MessageRecord{msg("at-a", "m1", 2), msg("at-b", "m2", 1), msg("at-a", "m3", 2), msg("at-a", "m4", 1)})
	})
	view(t, b, func(tx store.Tx) error {
		ms, err := tx.QueryMessages("ro-1", "")
		require.NoError(t, err)
		var got []string
		for _, m := range ms {
			got = append(got, m.SpanID)
		}
		assert.Equal(t, []string{"m2", "m4", "m1", "m3"}, got)
		ms, err = tx.QueryMessages("ro-1", "at-a")
		require.NoError(t, err)
		assert.Len(t, ms, 3)
		assert.JSONEq(t, `null`, string(ms[0].Attributes))

		c, err := tx.Counts()
		require.NoError(t, err)
		assert.Equal(t, store.Counts{Attempts: 2, Triplets: 3, Messages: 4}, c)
		return nil
	})
}

// TestMigrations opens a file twice, then with a new migration, then with an
// older build, checking schema_migrations each time.
func TestMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	versions := func() []int {
		db, err := sql.Open("sqlite", path)
		require.NoError(t, err)
		defer db.Close()
		rows, err := db.Query(`SELECT version FROM schema_migrations ORDER BY version`)
		require.NoError(t, err)
		defer rows.Close()
		var out []int
		for rows.Next() {
			var v int
			require.NoError(t, rows.Scan(&v))
			out = append(out, v)
		}
		require.NoError(t, rows.Err())
		return out
	}
	reopen := func() store.Backend {
		b, err := Open(path)
		require.NoError(t, err)
		return b
	}

	b := reopen()
	update(t, b, func(tx store.Tx) error { return tx.InsertRollout(rollout("ro-1", model.RolloutQueuing, 1)) })
	require.NoError(t, b.Close())
	orig := migrations
	t.Cleanup(func() { migrations = orig })
	var all []int
	for _, m := range orig {
		all = append(all, m.Version)
	}
	next := all[len(all)-1] + 1
	assert.Equal(t, all, versions())

	require.NoError(t, reopen().Close())
	assert.Equal(t, all, versions(), "reopening applies nothing")

	migrations = append(slices.Clone(orig), sqlstore.Migration{Version: next, Name: "test", Statements: []string{
		`CREATE TABLE extra_test (id INTEGER PRIMARY KEY)`,
	}})
	b = reopen()
	view(t, b, func(tx store.Tx) error {
		r, err := tx.GetRollout("ro-1")
		require.NoError(t, err)
		require.NotNil(t, r, "data survives a migration")
		return nil
	})
	require.NoError(t, b.Close())
	assert.Equal(t, append(slices.Clone(all), next), versions())

	// A failing migration leaves the schema as it was.
	migrations = append(slices.Clone(orig), migrations[len(orig)], sqlstore.Migration{Version: next + 1, Name: "broken", Statements: []string{
		`CREATE TABLE extra_test3 (id INTEGER PRIMARY KEY)`, `THIS IS NOT SQL`,
	}})
	_, err := Open(path)
	require.Error(t, err)
	assert.Equal(t, append(slices.Clone(all), next), versions())

	migrations = orig
	_, err = Open(path)
	require.ErrorContains(t, err, "newer than this build supports")
}

// TestPersistence writes every kind of record, closes, reopens and reads
// them back.
func TestPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	b, err := Open(path)
	require.NoError(t, err)
	r := rollout("ro-1", model.RolloutRunning, 1.5)
	r.Config.TimeoutSeconds = model.Ptr(30.0)
	r.Config.RetryCondition = []model.AttemptStatus{model.AttemptTimeout}
	sp := span("ro-1", "at-1", "s1", 1)
	sp.Attributes = model.Attributes{"gen_ai.system": "openai", "n": json.Number("3")}
	update(t, b, func(tx store.Tx) error {
		require.NoError(t, tx.InsertRollout(r))
		require.NoError(t, tx.InsertAttempt(attempt("ro-1", "at-1", 1)))
		_, err := tx.InsertSpans([]model.Span{sp})
		require.NoError(t, err)
		require.NoError(t, tx.QueuePush("ro-9"))
		_, err = tx.SeqIncrement("ro-1", 4)
		require.NoError(t, err)
		require.NoError(t, tx.PutResources(&model.ResourcesUpdate{ResourcesID: "rs-1", CreateTime: 1, UpdateTime: 2, Version: 1, Resources: model.NamedResources{}}))
		return tx.PutWorker(&model.Worker{WorkerID: "w-1", Status: model.WorkerIdle})
	})
	require.NoError(t, b.Close())

	b = openAt(t, path)
	update(t, b, func(tx store.Tx) error {
		got, err := tx.GetRollout("ro-1")
		require.NoError(t, err)
		assert.Equal(t, r, got)
		spans, _, err := tx.QuerySpans(store.Filter{}, store.AllPage())
		require.NoError(t, err)
		require.Len(t, spans, 1)
		wantJSON, _ := json.Marshal(sp)
		gotJSON, _ := json.Marshal(spans[0])
		assert.JSONEq(t, string(wantJSON), string(gotJSON))
		ids, err := tx.QueuePop(1)
		require.NoError(t, err)
		assert.Equal(t, []string{"ro-9"}, ids)
		v, err := tx.SeqIncrement("ro-1", 1)
		require.NoError(t, err)
		assert.Equal(t, 5, v)
		c, err := tx.Counts()
		require.NoError(t, err)
		assert.Equal(t, store.Counts{Rollouts: 1, Attempts: 1, Spans: 1, Resources: 1, Workers: 1}, c)
		return nil
	})
}

func TestRollback(t *testing.T) {
	b := openTemp(t)
	boom := errors.New("boom")
	err := b.Update(context.Background(), func(tx store.Tx) error {
		require.NoError(t, tx.InsertRollout(rollout("ro-1", model.RolloutQueuing, 1)))
		_, err := tx.InsertSpans([]model.Span{span("ro-1", "at-1", "s1", 1)})
		require.NoError(t, err)
		require.NoError(t, tx.QueuePush("ro-1"))
		_, err = tx.SeqIncrement("ro-1", 5)
		require.NoError(t, err)
		return boom
	})
	require.ErrorIs(t, err, boom)

	// A panicking transaction is rolled back too and frees the writer.
	assert.Panics(t, func() {
		_ = b.Update(context.Background(), func(tx store.Tx) error {
			require.NoError(t, tx.InsertRollout(rollout("ro-2", model.RolloutQueuing, 1)))
			panic("bug")
		})
	})

	update(t, b, func(tx store.Tx) error {
		c, err := tx.Counts()
		require.NoError(t, err)
		assert.Equal(t, store.Counts{}, c)
		ok, err := tx.QueueContains("ro-1")
		require.NoError(t, err)
		assert.False(t, ok)
		v, err := tx.SeqIncrement("ro-1", 1)
		require.NoError(t, err)
		assert.Equal(t, 1, v)
		return nil
	})
}

// TestConcurrentUpdates runs 20 writers against one counter while readers
// query; the counter must hand out exactly 1..20.
func TestConcurrentUpdates(t *testing.T) {
	b := openTemp(t)
	const n = 20
	got := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			err := b.Update(context.Background(), func(tx store.Tx) error {
				v, err := tx.SeqIncrement("ro-1", 1)
				if err != nil {
					return err
				}
				got[i] = v
				_, err = tx.InsertSpans([]model.Span{span("ro-1", "at-1", fmt.Sprintf("s%d", v), v)})
				return err
			})
			assert.NoError(t, err)
		}()
		go func() {
			defer wg.Done()
			err := b.View(context.Background(), func(tx store.Tx) error {
				_, _, err := tx.QuerySpans(store.Filter{}, store.AllPage())
				return err
			})
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	slices.Sort(got)
	want := make([]int, n)
	for i := range want {
		want[i] = i + 1
	}
	assert.Equal(t, want, got)
	view(t, b, func(tx store.Tx) error {
		_, total, err := tx.QuerySpans(store.Filter{}, store.AllPage())
		require.NoError(t, err)
		assert.Equal(t, n, total)
		return nil
	})
}

// TestBusyIsTransient holds the write lock from one connection and checks
// that a second writer on the same file gets a retryable error, while
// readers are not blocked (WAL).
func TestBusyIsTransient(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	holder := openAt(t, path)
	other := openAt(t, path, WithBusyTimeout(20*time.Millisecond))

	locked, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		done <- holder.Update(context.Background(), func(tx store.Tx) error {
			if err := tx.InsertRollout(rollout("ro-1", model.RolloutQueuing, 1)); err != nil {
				return err
			}
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked

	err := other.Update(context.Background(), func(tx store.Tx) error { return tx.QueuePush("x") })
	require.Error(t, err)
	assert.True(t, store.IsTransient(err), "got %v", err)

	view(t, other, func(tx store.Tx) error {
		r, err := tx.GetRollout("ro-1")
		require.NoError(t, err)
		assert.Nil(t, r, "uncommitted writes are invisible")
		return nil
	})
	close(release)
	require.NoError(t, <-done)
	update(t, other, func(tx store.Tx) error { return tx.QueuePush("x") })
}

func TestViewIsReadOnly(t *testing.T) {
	b := openTemp(t)
	err := b.View(context.Background(), func(tx store.Tx) error { return tx.QueuePush("x") })
	require.Error(t, err)
}

func TestClosed(t *testing.T) {
	b, err := Open(filepath.Join(t.TempDir(), "store.db"))
	require.NoError(t, err)
	require.NoError(t, b.Close())
	require.NoError(t, b.Close(), "closing twice is harmless")
	assert.ErrorIs(t, b.Update(context.Background(), func(store.Tx) error { return nil }), store.ErrClosed)
	assert.ErrorIs(t, b.View(context.Background(), func(store.Tx) error { return nil }), store.ErrClosed)
}

func TestOpenErrors(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "missing-dir", "store.db"))
	require.Error(t, err)
	_, err = Open(filepath.Join(t.TempDir(), "store.db"), WithReadConnections(0))
	require.Error(t, err)
}

// benchSpans builds a batch shaped like an instrumented LLM call: GenAI
// attributes with a prompt and completion, an event and resource attributes.
func benchSpans(rolloutID string, start, n int) []model.Span {
	out := make([]model.Span, n)
	for i := range out {
		id := fmt.Sprintf("%016x", start+i)
		out[i] = model.Span{
			RolloutID: rolloutID, AttemptID: "at-00000001", SequenceID: start + i + 1,
			TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: id, ParentID: model.Ptr("00f067aa0ba902b7"),
			Name: "openai.chat", Status: model.TraceStatus{StatusCode: model.StatusOK},
			Attributes: model.Attributes{
				"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini", "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
				"gen_ai.request.temperature": 0.7, "gen_ai.request.max_tokens": 512,
				"gen_ai.usage.input_tokens": 182, "gen_ai.usage.output_tokens": 64,
				"gen_ai.prompt.0.role": "system", "gen_ai.prompt.0.content": "You are a helpful assistant that answers questions about SQL.",
				"gen_ai.prompt.1.role": "user", "gen_ai.prompt.1.content": "Which rows does the query SELECT * FROM t WHERE a > 3 return?",
				"gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.content": "It returns every row of t whose column a is greater than three.",
				"gen_ai.completion.0.finish_reason": "stop", "agentlightning.rollout_id": rolloutID,
			},
			Events:    []model.Event{{Name: "gen_ai.content.prompt", Timestamp: model.Ptr(1.7e9), Attributes: model.Attributes{"k": "v"}}},
			StartTime: model.Ptr(1.7e9 + float64(i)), EndTime: model.Ptr(1.7e9 + float64(i) + 0.8),
			Context:  &model.SpanContext{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: id},
			Resource: model.OtelResource{Attributes: model.Attributes{"service.name": "agent", "telemetry.sdk.language": "python"}},
		}
	}
	return out
}

// BenchmarkInsertSpans measures the ingest hot path: one transaction per
// batch of 512 spans.
func BenchmarkInsertSpans(b *testing.B) {
	const batch = 512
	be := openTemp(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		spans := benchSpans("ro-bench", i*batch, batch)
		err := be.Update(ctx, func(tx store.Tx) error {
			stored, err := tx.InsertSpans(spans)
			if err == nil && !stored[0] {
				err = errors.New("span not stored")
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "spans/s")
}

func TestWriterBoundsTheWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal.db")
	db, err := sql.Open("sqlite", dsn(path, config{busyTimeout: time.Second}, true))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var limit int64
	if err := db.QueryRow("PRAGMA journal_size_limit").Scan(&limit); err != nil {
		t.Fatal(err)
	}
	if limit != walSizeLimit {
		t.Fatalf("journal_size_limit %d, want %d", limit, walSizeLimit)
	}
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode %q (%v)", mode, err)
	}
}

// walSize is the length of the database's WAL file (0 when absent).
func walSize(path string) int64 {
	info, err := os.Stat(path + "-wal")
	if err != nil {
		return 0
	}
	return info.Size()
}

// Under sustained writes with reads overlapping every automatic checkpoint,
// SQLite never restarts the WAL; the writer's forced checkpoint must keep
// it near walCheckpointAt.
func TestWALStaysBoundedUnderOverlappingReads(t *testing.T) {
	for _, tc := range []struct {
		name    string
		at      int64
		bounded bool
	}{
		{"checkpoint at 2 MiB", 2 << 20, true},
		{"no forced checkpoint", 1 << 40, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func(at int64, retry time.Duration) { walCheckpointAt, checkpointRetry = at, retry }(walCheckpointAt, checkpointRetry)
			// Every commit may try: on a starved CPU one try can miss its
			// window, and the next must not wait checkpointRetry.
			walCheckpointAt, checkpointRetry = tc.at, 0
			path := filepath.Join(t.TempDir(), "store.db")
			b := openAt(t, path)
			ctx, cancel := context.WithCancel(context.Background())
			var readers sync.WaitGroup
			for r := range 2 {
				readers.Go(func() {
					for ctx.Err() == nil {
						_ = b.View(ctx, func(tx store.Tx) error {
							_, _, err := tx.QuerySpans(store.Filter{Must: []store.Cond{{Field: "rollout_id", Value: "ro-wal"}}},
								store.Page{Limit: 1 + r})
							time.Sleep(2 * time.Millisecond) // a read spanning the next commit
							return err
						})
					}
				})
			}
			var largest int64
			for i := range 40 {
				update(t, b, func(tx store.Tx) error {
					_, err := tx.InsertSpans(benchSpans("ro-wal", i*256, 256))
					return err
				})
				largest = max(largest, walSize(path))
			}
			cancel()
			readers.Wait()
			t.Logf("largest WAL: %d KiB", largest>>10)
			if tc.bounded {
				assert.Less(t, largest, int64(8<<20), "the forced checkpoint keeps the WAL small")
			} else {
				assert.Greater(t, largest, int64(8<<20), "without it the WAL grows (the condition the checkpoint exists for)")
			}
		})
	}
}

// Migration 2 marks the rollouts of an older database that have limits, so
// the watchdog keeps enforcing them after an upgrade.
func TestWatchedMigrationBackfills(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	for _, stmt := range append([]string{`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, 'initial schema')`}, migrations[0].Statements...) {
		_, err := db.Exec(stmt)
		require.NoError(t, err, stmt)
	}
	limited := rollout("ro-limited", model.RolloutRunning, 1)
	limited.Config.UnresponsiveSeconds = model.Ptr(5.0)
	for _, r := range []*model.Rollout{limited, rollout("ro-free", model.RolloutRunning, 1)} {
		doc, err := json.Marshal(r)
		require.NoError(t, err)
		_, err = db.Exec(`INSERT INTO rollouts (rollout_id, status, start_time, doc) VALUES (?, ?, ?, ?)`,
			r.RolloutID, string(r.Status), r.StartTime, string(doc))
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	view(t, openAt(t, path), func(tx store.Tx) error {
		watched, err := tx.WatchedRollouts()
		require.NoError(t, err)
		assert.Equal(t, []string{"ro-limited"}, rolloutIDs(watched))
		return nil
	})
}

// The watchdog's query must use the partial index, not scan the rollouts.
func TestWatchedRolloutsUseTheIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	require.NoError(t, openAt(t, path).Close())
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	plan := queryPlan(t, db, `SELECT doc FROM rollouts WHERE watched = 1 AND status IN ('preparing', 'running') ORDER BY seq`)
	assert.Contains(t, plan, "rollouts_watched")
}

// queryPlan is SQLite's EXPLAIN QUERY PLAN of q, one step a line.
func queryPlan(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	rows, err := db.Query(`EXPLAIN QUERY PLAN ` + q)
	require.NoError(t, err)
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Err())
	return strings.Join(plan, "\n")
}

// v1.0's list starts from the v1-owned rollouts, not from every running
// rollout (automatic v0.3 rollouts stay running).
func TestV1RolloutsUseTheIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	require.NoError(t, openAt(t, path).Close())
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.Query(`EXPLAIN QUERY PLAN SELECT r.doc FROM rollout_ext e JOIN rollouts r ON r.rollout_id = e.rollout_id
		WHERE e.api = 'v1' AND r.status IN ('queuing', 'running') ORDER BY r.seq LIMIT 50`)
	require.NoError(t, err)
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		plan = append(plan, detail)
	}
	joined := strings.Join(plan, "\n")
	assert.Contains(t, joined, "rollout_ext_api", joined)
}

// A read that outlasts many commits (an export streaming a large dataset)
// keeps the forced checkpoint from finishing. Writes must wait at most one
// checkpointWait behind it, not the read's length or the busy timeout per
// commit, and the WAL must shrink once the read ends.
func TestCheckpointDoesNotStallWritesBehindALongRead(t *testing.T) {
	defer func(at int64, retry time.Duration) { walCheckpointAt, checkpointRetry = at, retry }(walCheckpointAt, checkpointRetry)
	walCheckpointAt, checkpointRetry = 1<<20, 500*time.Millisecond
	const read = 4 * time.Second
	path := filepath.Join(t.TempDir(), "store.db")
	b := openAt(t, path, WithBusyTimeout(5*time.Second))
	insert := func(i int) {
		update(t, b, func(tx store.Tx) error {
			_, err := tx.InsertSpans(benchSpans("ro-long-read", i*256, 256))
			return err
		})
	}
	insert(0)

	reading, readDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(readDone)
		_ = b.View(context.Background(), func(tx store.Tx) error {
			_, _, err := tx.QuerySpans(store.Filter{}, store.Page{Limit: 1})
			close(reading)
			time.Sleep(read)
			return err
		})
	}()
	<-reading
	start := time.Now()
	for i := 1; i <= 8; i++ {
		insert(i)
	}
	writes := time.Since(start)
	require.Greater(t, walSize(path), walCheckpointAt, "the read kept the WAL from being checkpointed")
	assert.Less(t, writes, read-time.Second, "the writes waited for the read")

	<-readDone
	time.Sleep(checkpointRetry + 100*time.Millisecond)
	insert(9)
	assert.Less(t, walSize(path), walCheckpointAt, "once the read ended the next commit truncated the WAL")
}

// Migration 3 gives the rollouts of an older database the reward of their
// stored triplets (the last non-null one of the latest revision), so that
// browsing by reward covers them.
func TestRewardMigrationBackfills(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	stmts := []string{`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)`,
		`INSERT INTO schema_migrations VALUES (1, 'initial schema'), (2, 'watched rollouts')`}
	stmts = append(append(stmts, migrations[0].Statements...), migrations[1].Statements...)
	for _, stmt := range stmts {
		_, err := db.Exec(stmt)
		require.NoError(t, err, stmt)
	}
	for _, r := range []*model.Rollout{rollout("ro-rewarded", model.RolloutSucceeded, 1), rollout("ro-none", model.RolloutSucceeded, 2)} {
		doc, err := json.Marshal(r)
		require.NoError(t, err)
		_, err = db.Exec(`INSERT INTO rollouts (rollout_id, status, start_time, doc) VALUES (?, ?, ?, ?)`,
			r.RolloutID, string(r.Status), r.StartTime, string(doc))
		require.NoError(t, err)
	}
	triplet := func(rolloutID string, revision, idx int, reward *float64) {
		doc, err := json.Marshal(model.TripletRecord{RolloutID: rolloutID, AttemptID: "at", Revision: revision, Index: idx,
			Triplet: model.Triplet{Reward: reward}})
		require.NoError(t, err)
		_, err = db.Exec(`INSERT INTO triplets (rollout_id, attempt_id, revision, idx, span_id, doc) VALUES (?, 'at', ?, ?, 's', ?)`,
			rolloutID, revision, idx, string(doc))
		require.NoError(t, err)
	}
	triplet("ro-rewarded", 1, 0, model.Ptr(0.25))
	triplet("ro-rewarded", 1, 1, model.Ptr(0.75))
	triplet("ro-rewarded", 1, 2, nil)
	triplet("ro-none", 1, 0, nil)
	require.NoError(t, db.Close())

	view(t, openAt(t, path), func(tx store.Tx) error {
		rows, err := tx.(store.BrowseTx).BrowseRollouts(store.BrowseQuery{SortBy: store.BrowseByStartTime, Limit: 10}, nil)
		require.NoError(t, err)
		require.Len(t, rows, 2)
		require.NotNil(t, rows[0].Reward)
		assert.Equal(t, 0.75, *rows[0].Reward)
		assert.Nil(t, rows[1].Reward)
		return nil
	})
}

// Browsing pages by start time (alone or under a status filter) and by
// reward are index range scans, not sorts of the table.
func TestBrowseUsesTheIndexes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	require.NoError(t, openAt(t, path).Close())
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	for q, index := range map[string]string{
		`SELECT seq, reward, doc FROM rollouts WHERE start_time <= 5 AND (start_time < 5 OR seq < 3) ORDER BY start_time DESC, seq DESC LIMIT 51`: "rollouts_start (start_time<?)",
		`SELECT seq, reward, doc FROM rollouts WHERE rollout_id >= 'ro-1' AND rollout_id < 'ro-2' ORDER BY +start_time DESC, seq DESC LIMIT 51`:   "sqlite_autoindex_rollouts_1 (rollout_id>? AND rollout_id<?)",
		`SELECT seq, reward, doc FROM rollouts WHERE status IN ('failed') ORDER BY start_time DESC, seq DESC LIMIT 51`:                            "rollouts_status_start",
		`SELECT seq, reward, doc FROM rollouts WHERE reward IS NOT NULL ORDER BY reward DESC, seq DESC LIMIT 51`:                                  "rollouts_reward",
	} {
		p := queryPlan(t, db, q)
		assert.Contains(t, p, index, q)
		if !strings.Contains(q, "+start_time") { // the prefix's few rows are sorted
			assert.NotContains(t, p, "TEMP B-TREE", q)
		}
	}
}

// The reward curve reads only the partial covering index.
func TestRewardCurveUsesTheCoveringIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	require.NoError(t, openAt(t, path).Close())
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	plan := queryPlan(t, db, `SELECT FLOOR(start_time / 60) * 60, COALESCE(resources_id, ''), AVG(reward), COUNT(*)
		FROM rollouts WHERE reward IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2`)
	assert.Contains(t, plan, "COVERING INDEX rollouts_reward")
}
