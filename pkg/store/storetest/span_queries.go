package storetest

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// testSpanQueries covers query_spans (spec §2.3, §6.4 rows "query_spans by
// attempt" to "or with sort and offset" and "empty queries").
func (s suite) testSpanQueries(t *testing.T) {
	t.Run("query spans by attempt", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"data"}`)
		require.NotNil(t, f.dequeue())
		a1 := f.attempts(r.RolloutID)[0].AttemptID
		for range 2 {
			f.addOtelSpan(r.RolloutID, a1)
		}
		f.setRolloutStatus(r.RolloutID, model.RolloutRequeuing)
		require.NotNil(t, f.dequeue())
		a2 := f.attempts(r.RolloutID)[1].AttemptID
		for range 3 {
			f.addOtelSpan(r.RolloutID, a2)
		}

		assert.Len(t, f.spansOf(r.RolloutID), 5)
		for _, c := range []struct {
			attempt string
			want    string
			n       int
		}{
			{a1, a1, 2},
			{store.LatestAttempt, a2, 3},
			{"nonexistent", "", 0},
		} {
			q := spanQuery(r.RolloutID)
			q.AttemptID = model.Ptr(c.attempt)
			got := f.querySpans(q)
			assert.Len(t, got.Items, c.n, c.attempt)
			assert.Equal(t, c.n, got.Total, c.attempt)
			for _, sp := range got.Items {
				assert.Equal(t, c.want, sp.AttemptID)
			}
		}
	})

	t.Run("spans come back in sequence order", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		for _, seq := range []int{3, 1, 2} {
			f.addSpan(seqSpan(r.RolloutID, r.Attempt.AttemptID, seq, "s"))
		}
		got := f.spansOf(r.RolloutID)
		require.Len(t, got, 3)
		for i, sp := range got {
			assert.Equal(t, i+1, sp.SequenceID)
		}
	})

	t.Run("span filters", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{"payload":"span-filters"}`)
		aid := r.Attempt.AttemptID
		spans := []model.Span{
			newSpan(r.RolloutID, aid, 1, hexID(1, 32), hexID(1, 16), nil, "reward"),
			newSpan(r.RolloutID, aid, 2, hexID(2, 32), hexID(2, 16), model.Ptr(hexID(1, 16)), "planner"),
			newSpan(r.RolloutID, aid, 3, hexID(3, 32), hexID(3, 16), model.Ptr(hexID(2, 16)), "tool-call"),
		}
		for i := range spans {
			spans[i].Events = []model.Event{{Name: "event", Attributes: model.Attributes{}}}
			f.addSpan(spans[i])
		}

		q := spanQuery(r.RolloutID)
		q.TraceID = &spans[1].TraceID
		assert.Equal(t, []string{spans[1].SpanID}, spanIDs(f.querySpans(q).Items))

		q = spanQuery(r.RolloutID)
		q.SpanID = &spans[0].SpanID
		q.TraceIDContains = model.Ptr(spans[2].TraceID[len(spans[2].TraceID)-4:])
		q.FilterLogic = store.LogicOr
		assert.ElementsMatch(t, []string{spans[0].SpanID, spans[2].SpanID}, spanIDs(f.querySpans(q).Items))

		q = spanQuery(r.RolloutID)
		q.ParentIDContains = model.Ptr(spans[1].SpanID[len(spans[1].SpanID)-4:])
		assert.Equal(t, []string{spans[2].SpanID}, spanIDs(f.querySpans(q).Items), "a null parent never matches contains")

		q = spanQuery(r.RolloutID)
		q.ParentID = spans[2].ParentID
		assert.Equal(t, []string{spans[2].SpanID}, spanIDs(f.querySpans(q).Items))

		q = spanQuery(r.RolloutID)
		q.Name = model.Ptr("planner")
		assert.Equal(t, []string{spans[1].SpanID}, spanIDs(f.querySpans(q).Items))

		desc := spanIDs(spans)
		sort.Sort(sort.Reverse(sort.StringSlice(desc)))
		q = spanQuery(r.RolloutID)
		q.Page = sortedPage("span_id", store.SortDesc, 1, 1)
		assert.Equal(t, desc[1:2], spanIDs(f.querySpans(q).Items))
	})

	t.Run("or filters never leave the queried rollout", func(t *testing.T) {
		f := s.fresh(t)
		first := f.startRollout(`{"payload":"first-span"}`)
		second := f.startRollout(`{"payload":"second-span"}`)
		spFirst := seqSpan(first.RolloutID, first.Attempt.AttemptID, 1, "alpha")
		spSecond := seqSpan(second.RolloutID, second.Attempt.AttemptID, 2, "beta")
		f.addSpan(spFirst)
		f.addSpan(spSecond)

		q := spanQuery(first.RolloutID)
		q.AttemptID = &first.Attempt.AttemptID
		q.NameContains = model.Ptr("alpha")
		q.TraceID = &spSecond.TraceID
		q.FilterLogic = store.LogicOr
		assert.Equal(t, []string{spFirst.SpanID}, spanIDs(f.querySpans(q).Items))
	})

	t.Run("name contains filters before pagination", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{"payload":"span-names"}`)
		matching := seqSpan(r.RolloutID, r.Attempt.AttemptID, 1, "planner-step")
		f.addSpan(matching)
		f.addSpan(seqSpan(r.RolloutID, r.Attempt.AttemptID, 2, "tool-call"))
		q := spanQuery(r.RolloutID)
		q.NameContains = model.Ptr("plan")
		q.Page = sortedPage("sequence_id", store.SortAsc, 1, 0)
		got := f.querySpans(q)
		assert.Equal(t, []string{matching.SpanID}, spanIDs(got.Items))
		assert.Equal(t, 1, got.Total)
	})

	t.Run("several filters must all hold", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{"payload":"span-multi"}`)
		aid := r.Attempt.AttemptID
		spans := []model.Span{
			newSpan(r.RolloutID, aid, 1, hexID(10, 32), hexID(1, 16), nil, "phase-plan"),
			newSpan(r.RolloutID, aid, 2, hexID(20, 32), hexID(2, 16), model.Ptr(hexID(1, 16)), "phase-run"),
			newSpan(r.RolloutID, aid, 3, hexID(30, 32), hexID(3, 16), model.Ptr(hexID(2, 16)), "tool-call"),
		}
		for _, sp := range spans {
			f.addSpan(sp)
		}
		target := spans[2]
		q := spanQuery(r.RolloutID)
		q.TraceIDContains = model.Ptr(target.TraceID[len(target.TraceID)-4:])
		q.SpanIDContains = model.Ptr(target.SpanID[len(target.SpanID)-4:])
		q.ParentID = target.ParentID
		q.NameContains = model.Ptr("tool")
		assert.Equal(t, []string{target.SpanID}, spanIDs(f.querySpans(q).Items))
	})

	t.Run("span pagination metadata", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{"payload":"span-pagination"}`)
		for i := 1; i <= 3; i++ {
			f.addSpan(seqSpan(r.RolloutID, r.Attempt.AttemptID, i, "span"))
		}
		q := spanQuery(r.RolloutID)
		q.AttemptID = &r.Attempt.AttemptID
		q.Page = sortedPage("sequence_id", store.SortAsc, 1, 1)
		got := f.querySpans(q)
		require.Len(t, got.Items, 1)
		assert.Equal(t, 2, got.Items[0].SequenceID)
		assert.Equal(t, 1, got.Limit)
		assert.Equal(t, 1, got.Offset)
		assert.Equal(t, 3, got.Total)

		q.Page = store.Page{SortOrder: store.SortAsc, Limit: 0}
		got = f.querySpans(q)
		assert.Empty(t, got.Items)
		assert.Equal(t, 3, got.Total)
	})

	t.Run("or filters with sort and offset", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{"payload":"span-or"}`)
		aid := r.Attempt.AttemptID
		plan := newSpan(r.RolloutID, aid, 10, hexID(30, 32), hexID(10, 16), nil, "phase-plan")
		run := newSpan(r.RolloutID, aid, 20, hexID(60, 32), hexID(20, 16), &plan.SpanID, "phase-run")
		tool := newSpan(r.RolloutID, aid, 30, hexID(90, 32), hexID(30, 16), &run.SpanID, "tool-call")
		for _, sp := range []model.Span{plan, run, tool} {
			f.addSpan(sp)
		}
		q := spanQuery(r.RolloutID)
		q.NameContains = model.Ptr("phase")
		q.ParentIDContains = model.Ptr(run.SpanID[len(run.SpanID)-4:])
		q.SpanID = &tool.SpanID
		q.FilterLogic = store.LogicOr
		q.Page = sortedPage("sequence_id", store.SortDesc, 1, 1)
		got := f.querySpans(q)
		assert.Equal(t, []string{run.SpanID}, spanIDs(got.Items))
		assert.Equal(t, 3, got.Total)
	})

	t.Run("span queries on unknown rollouts or attempts are empty", func(t *testing.T) {
		f := s.fresh(t)
		for _, attempt := range []*string{nil, model.Ptr("attempt-1"), model.Ptr(store.LatestAttempt)} {
			q := spanQuery("nonexistent")
			q.AttemptID = attempt
			got := f.querySpans(q)
			assert.Empty(t, got.Items)
			assert.Equal(t, 0, got.Total)
		}
		r := f.enqueue(`{"test":"data"}`)
		q := spanQuery(r.RolloutID)
		q.AttemptID = model.Ptr(store.LatestAttempt)
		assert.Empty(t, f.querySpans(q).Items, "latest with no attempts")
	})
}
