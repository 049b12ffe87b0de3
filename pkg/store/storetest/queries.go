package storetest

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// Declared fields of each model in declaration order: the list an invalid
// sort_by error names (spec §3.1; rollouts exclude "attempt").
var (
	rolloutFields   = []string{"rollout_id", "input", "start_time", "end_time", "mode", "resources_id", "status", "config", "metadata"}
	attemptFields   = []string{"rollout_id", "attempt_id", "sequence_id", "start_time", "end_time", "status", "worker_id", "last_heartbeat_time", "metadata"}
	spanFields      = []string{"rollout_id", "attempt_id", "sequence_id", "trace_id", "span_id", "parent_id", "name", "status", "attributes", "events", "links", "start_time", "end_time", "context", "parent", "resource"}
	resourcesFields = []string{"resources_id", "create_time", "update_time", "version", "resources"}
	workerFields    = []string{"worker_id", "status", "heartbeat_stats", "last_heartbeat_time", "last_dequeue_time", "last_busy_time", "last_idle_time", "current_rollout_id", "current_attempt_id"}
)

// unsortable are the JSON-valued fields: Agent Lightning cannot order them
// either, so the suite only requires the scalar fields to sort.
var unsortable = map[string]bool{
	"input": true, "config": true, "metadata": true, "attributes": true, "events": true, "links": true,
	"context": true, "parent": true, "resource": true, "resources": true, "heartbeat_stats": true,
}

// testQueries covers the generic filter, sort and pagination semantics on
// rollouts and attempts (spec §2.2, §6.4 rows "query by status" to
// "attempts sort and page") and the validation of query arguments (§3.1).
func (s suite) testQueries(t *testing.T) {
	t.Run("query rollouts by status", func(t *testing.T) {
		f := s.fresh(t)
		r1 := f.enqueue(`{"id":1}`)
		r2 := f.enqueue(`{"id":2}`)
		r3 := f.enqueue(`{"id":3}`)
		require.NotNil(t, f.dequeue())
		f.setRolloutStatus(r2.RolloutID, model.RolloutFailed)

		assert.Len(t, f.allRollouts(), 3)
		assert.Equal(t, []string{r3.RolloutID}, rolloutIDs(f.queryRollouts(byStatus(model.RolloutQueuing)).Items))
		assert.Equal(t, []string{r1.RolloutID}, rolloutIDs(f.queryRollouts(byStatus(model.RolloutPreparing)).Items))
		assert.Equal(t, []string{r2.RolloutID}, rolloutIDs(f.queryRollouts(byStatus(model.RolloutFailed, model.RolloutSucceeded)).Items))
		empty := f.queryRollouts(byStatus())
		assert.Empty(t, empty.Items, "an empty status list matches nothing")
		assert.Equal(t, 0, empty.Total)
	})

	t.Run("query rollouts attaches the latest attempt", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{"sample":"latest"}`)
		second := f.startAttempt(r.RolloutID)
		queued := f.enqueue(`{"sample":"queued"}`)
		items := f.queryRollouts(byIDs(r.RolloutID, queued.RolloutID)).Items
		require.Len(t, items, 2)
		require.NotNil(t, items[0].Attempt)
		assert.Equal(t, second.Attempt.AttemptID, items[0].Attempt.AttemptID)
		assert.Equal(t, 2, items[0].Attempt.SequenceID)
		assert.Nil(t, items[1].Attempt, "a rollout without attempts stays a plain rollout")
	})

	t.Run("query rollouts by ids", func(t *testing.T) {
		f := s.fresh(t)
		r1 := f.enqueue(`{"id":1}`)
		r2 := f.enqueue(`{"id":2}`)
		r3 := f.enqueue(`{"id":3}`)
		assert.ElementsMatch(t, []string{r1.RolloutID, r3.RolloutID}, rolloutIDs(f.queryRollouts(byIDs(r1.RolloutID, r3.RolloutID)).Items))
		assert.Equal(t, []string{r2.RolloutID}, rolloutIDs(f.queryRollouts(byIDs(r2.RolloutID)).Items))
		assert.Empty(t, f.queryRollouts(byIDs("nonexistent")).Items)
		assert.Empty(t, f.queryRollouts(byIDs()).Items, "an empty id list matches nothing")

		f.setRolloutStatus(r1.RolloutID, model.RolloutSucceeded)
		f.setRolloutStatus(r2.RolloutID, model.RolloutFailed)
		q := byIDs(r1.RolloutID, r2.RolloutID, r3.RolloutID)
		q.StatusIn = []model.RolloutStatus{model.RolloutSucceeded, model.RolloutQueuing}
		assert.ElementsMatch(t, []string{r1.RolloutID, r3.RolloutID}, rolloutIDs(f.queryRollouts(q).Items))
	})

	t.Run("query rollouts with filters, sort and pages", func(t *testing.T) {
		f := s.fresh(t)
		var rs []model.Rollout
		for i := range 3 {
			rs = append(rs, f.enqueue(fmt.Sprintf(`{"idx":%d}`, i)))
		}
		f.setRolloutStatus(rs[2].RolloutID, model.RolloutFailed)

		assert.Equal(t, []string{rs[2].RolloutID}, rolloutIDs(f.queryRollouts(byStatus(model.RolloutFailed)).Items))

		desc := rolloutIDs(rs)
		sort.Sort(sort.Reverse(sort.StringSlice(desc)))
		q := rolloutQuery()
		q.Page = sortedPage("rollout_id", store.SortDesc, 2, 0)
		assert.Equal(t, desc[:2], rolloutIDs(f.queryRollouts(q).Items))
		q.Page = sortedPage("rollout_id", store.SortDesc, 1, 1)
		assert.Equal(t, desc[1:2], rolloutIDs(f.queryRollouts(q).Items))

		q = byStatus(model.RolloutQueuing)
		q.RolloutIDContains = model.Ptr(rs[0].RolloutID[len(rs[0].RolloutID)-4:])
		assert.Contains(t, rolloutIDs(f.queryRollouts(q).Items), rs[0].RolloutID)

		q = byStatus(model.RolloutSucceeded)
		q.RolloutIDIn = []string{rs[1].RolloutID}
		q.FilterLogic = store.LogicOr
		assert.Equal(t, []string{rs[1].RolloutID}, rolloutIDs(f.queryRollouts(q).Items))
	})

	t.Run("filter logic decides how conditions combine", func(t *testing.T) {
		f := s.fresh(t)
		failed := f.enqueue(`{"kind":"failed"}`)
		queued := f.enqueue(`{"kind":"queue"}`)
		f.setRolloutStatus(failed.RolloutID, model.RolloutFailed)
		substring := queued.RolloutID[len(queued.RolloutID)-6:]

		q := byStatus(model.RolloutFailed)
		q.RolloutIDContains = &substring
		assert.Empty(t, f.queryRollouts(q).Items, "and")

		q.FilterLogic = store.LogicOr
		q.Page = sortedPage("rollout_id", store.SortAsc, -1, 0)
		assert.ElementsMatch(t, []string{failed.RolloutID, queued.RolloutID}, rolloutIDs(f.queryRollouts(q).Items), "or")
	})

	t.Run("or filter with sort and page", func(t *testing.T) {
		f := s.fresh(t)
		var rs []model.Rollout
		for i := range 4 {
			rs = append(rs, f.enqueue(fmt.Sprintf(`{"idx":%d}`, i)))
		}
		f.setRolloutStatus(rs[0].RolloutID, model.RolloutFailed)
		f.setRolloutStatus(rs[3].RolloutID, model.RolloutFailed)
		q := byStatus(model.RolloutFailed)
		q.RolloutIDContains = model.Ptr(rs[2].RolloutID[len(rs[2].RolloutID)-5:])
		q.FilterLogic = store.LogicOr
		q.Page = sortedPage("rollout_id", store.SortAsc, 2, 1)
		want := []string{rs[0].RolloutID, rs[2].RolloutID, rs[3].RolloutID}
		sort.Strings(want)
		got := f.queryRollouts(q)
		assert.Equal(t, want[1:3], rolloutIDs(got.Items))
		assert.Equal(t, 3, got.Total)
	})

	t.Run("pagination metadata", func(t *testing.T) {
		f := s.fresh(t)
		for i := range 3 {
			f.enqueue(fmt.Sprintf(`{"idx":%d}`, i))
		}
		q := rolloutQuery()
		q.Page = sortedPage("rollout_id", store.SortAsc, 1, 1)
		p := f.queryRollouts(q)
		assert.Len(t, p.Items, 1)
		assert.Equal(t, 1, p.Limit)
		assert.Equal(t, 1, p.Offset)
		assert.Equal(t, 3, p.Total)

		all := f.queryRollouts(rolloutQuery())
		assert.Equal(t, -1, all.Limit)
		assert.Equal(t, 0, all.Offset)
		assert.Equal(t, 3, all.Total)
	})

	t.Run("limit 0 returns no items but the total", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		f.startAttempt(r.RolloutID)
		q := rolloutQuery()
		q.Limit = 0
		p := f.queryRollouts(q)
		assert.Empty(t, p.Items)
		assert.Equal(t, 1, p.Total)

		aq := attemptQuery(r.RolloutID)
		aq.Limit = 0
		ap, err := f.s.QueryAttempts(f.ctx, aq)
		require.NoError(t, err)
		assert.Empty(t, ap.Items)
		assert.Equal(t, 2, ap.Total)
	})

	t.Run("offset past the end returns an empty page", func(t *testing.T) {
		f := s.fresh(t)
		f.enqueue(`{}`)
		f.enqueue(`{}`)
		q := rolloutQuery()
		q.Offset = 5
		p := f.queryRollouts(q)
		assert.Empty(t, p.Items)
		assert.Equal(t, 2, p.Total)
	})

	t.Run("rollouts come back in insertion order by default", func(t *testing.T) {
		f := s.fresh(t)
		var want []string
		for i := range 6 {
			want = append(want, f.enqueue(fmt.Sprintf(`{"i":%d}`, i)).RolloutID)
		}
		assert.Equal(t, want, rolloutIDs(f.allRollouts()))
	})

	t.Run("sorting is stable and ties keep insertion order", func(t *testing.T) {
		f := s.fresh(t)
		r1 := f.enqueue(`{}`)
		r2 := f.enqueue(`{}`)
		r3 := f.enqueue(`{}`)
		f.setRolloutStatus(r2.RolloutID, model.RolloutFailed)
		q := rolloutQuery()
		q.Page = sortedPage("status", store.SortAsc, -1, 0)
		assert.Equal(t, []string{r2.RolloutID, r1.RolloutID, r3.RolloutID}, rolloutIDs(f.queryRollouts(q).Items))
		q.Page = sortedPage("status", store.SortDesc, -1, 0)
		assert.Equal(t, []string{r1.RolloutID, r3.RolloutID, r2.RolloutID}, rolloutIDs(f.queryRollouts(q).Items))
	})

	t.Run("null times sort last ascending and first descending", func(t *testing.T) {
		f := s.fresh(t)
		r1 := f.enqueue(`{}`)
		r2 := f.enqueue(`{}`)
		r3 := f.enqueue(`{}`)
		f.advance(2)
		f.setRolloutStatus(r3.RolloutID, model.RolloutSucceeded)
		f.advance(2)
		f.setRolloutStatus(r1.RolloutID, model.RolloutFailed)
		q := rolloutQuery()
		q.Page = sortedPage("end_time", store.SortAsc, -1, 0)
		assert.Equal(t, []string{r3.RolloutID, r1.RolloutID, r2.RolloutID}, rolloutIDs(f.queryRollouts(q).Items))
		q.Page = sortedPage("end_time", store.SortDesc, -1, 0)
		assert.Equal(t, []string{r2.RolloutID, r1.RolloutID, r3.RolloutID}, rolloutIDs(f.queryRollouts(q).Items))
	})

	t.Run("null strings sort as the empty string", func(t *testing.T) {
		f := s.fresh(t)
		r1 := f.enqueueWith(model.EnqueueRolloutRequest{Input: raw(`{}`), Mode: model.Ptr(model.ModeVal)})
		r2 := f.enqueue(`{}`)
		r3 := f.enqueueWith(model.EnqueueRolloutRequest{Input: raw(`{}`), Mode: model.Ptr(model.ModeTrain)})
		q := rolloutQuery()
		q.Page = sortedPage("mode", store.SortAsc, -1, 0)
		assert.Equal(t, []string{r2.RolloutID, r3.RolloutID, r1.RolloutID}, rolloutIDs(f.queryRollouts(q).Items))
	})

	t.Run("attempts sort and page", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{"payload":"attempt-filters"}`)
		f.startAttempt(r.RolloutID)
		f.startAttempt(r.RolloutID)
		seqs := func(q store.AttemptQuery) ([]int, model.Paginated[model.Attempt]) {
			p, err := f.s.QueryAttempts(f.ctx, q)
			require.NoError(t, err)
			out := []int{}
			for _, a := range p.Items {
				out = append(out, a.SequenceID)
			}
			return out, p
		}
		q := attemptQuery(r.RolloutID)
		got, _ := seqs(q)
		assert.Equal(t, []int{1, 2, 3}, got, "sequence_id ascending by default")
		q.Page = sortedPage("sequence_id", store.SortDesc, -1, 0)
		got, _ = seqs(q)
		assert.Equal(t, []int{3, 2, 1}, got)
		q.Page = sortedPage("sequence_id", store.SortDesc, 1, 1)
		got, _ = seqs(q)
		assert.Equal(t, []int{2}, got)
		q.Page = sortedPage("sequence_id", store.SortAsc, 1, 10)
		got, _ = seqs(q)
		assert.Empty(t, got)
		q.Page = sortedPage("sequence_id", store.SortAsc, 1, 1)
		_, p := seqs(q)
		assert.Equal(t, 1, p.Limit)
		assert.Equal(t, 1, p.Offset)
		assert.Equal(t, 3, p.Total)
	})

	t.Run("invalid query arguments are refused", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		type query func(store.Page, string) error
		kinds := []struct {
			name   string
			fields []string
			run    query
			logic  bool
		}{
			{"rollouts", rolloutFields, func(p store.Page, logic string) error {
				_, err := f.s.QueryRollouts(f.ctx, store.RolloutQuery{FilterLogic: logic, Page: p})
				return err
			}, true},
			{"attempts", attemptFields, func(p store.Page, _ string) error {
				_, err := f.s.QueryAttempts(f.ctx, store.AttemptQuery{RolloutID: r.RolloutID, Page: p})
				return err
			}, false},
			{"spans", spanFields, func(p store.Page, logic string) error {
				_, err := f.s.QuerySpans(f.ctx, store.SpanQuery{RolloutID: r.RolloutID, FilterLogic: logic, Page: p})
				return err
			}, true},
			{"resources", resourcesFields, func(p store.Page, _ string) error {
				_, err := f.s.QueryResources(f.ctx, store.ResourcesQuery{Page: p})
				return err
			}, false},
			{"workers", workerFields, func(p store.Page, logic string) error {
				_, err := f.s.QueryWorkers(f.ctx, store.WorkerQuery{FilterLogic: logic, Page: p})
				return err
			}, true},
		}
		for _, k := range kinds {
			t.Run(k.name, func(t *testing.T) {
				requireInvalidArgument(t, k.run(sortedPage("nonexistent_field", store.SortAsc, -1, 0), store.LogicAnd),
					"Invalid sort_by: nonexistent_field, allowed fields are: "+strings.Join(k.fields, ", "))
				requireInvalidArgument(t, k.run(sortedPage(k.fields[0], "up", -1, 0), store.LogicAnd),
					"Invalid sort_order: up, allowed values are: asc, desc")
				requireInvalidArgument(t, k.run(store.Page{SortOrder: store.SortAsc, Limit: -2}, store.LogicAnd),
					"Limit must be greater than 0 or -1 for no limit")
				requireInvalidArgument(t, k.run(store.Page{SortOrder: store.SortAsc, Limit: -1, Offset: -1}, store.LogicAnd),
					"Offset must be greater than or equal to 0")
				if k.logic {
					requireInvalidArgument(t, k.run(allPage(), "xor"), "Invalid filter_logic: xor, allowed values are: and, or")
				}
				for _, field := range k.fields {
					if unsortable[field] || (k.name == "spans" && field == "status") {
						continue
					}
					assert.NoError(t, k.run(sortedPage(field, store.SortDesc, -1, 0), store.LogicOr), "sort by %s", field)
				}
			})
		}
		_, err := f.s.QueryRollouts(f.ctx, store.RolloutQuery{FilterLogic: store.LogicAnd, Page: sortedPage("attempt", store.SortAsc, -1, 0)})
		requireInvalidArgument(t, err, "Invalid sort_by: attempt, allowed fields are: "+strings.Join(rolloutFields, ", "))
	})
}
