package storetest

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// newSpan builds a span the way Agent Lightning's tests do: OTel-shaped hex
// ids, status OK, empty collections and a matching context.
func newSpan(rolloutID, attemptID string, seq int, traceID, spanID string, parentID *string, name string) model.Span {
	return model.Span{
		RolloutID: rolloutID, AttemptID: attemptID, SequenceID: seq,
		TraceID: traceID, SpanID: spanID, ParentID: parentID, Name: name,
		Status:     model.TraceStatus{StatusCode: model.StatusOK},
		Attributes: model.Attributes{}, Events: []model.Event{}, Links: []model.Link{},
		Context:  &model.SpanContext{TraceID: traceID, SpanID: spanID, TraceState: map[string]string{}},
		Resource: model.OtelResource{Attributes: model.Attributes{}},
	}
}

func hexID(n, width int) string { return fmt.Sprintf("%0*x", width, n) }

// seqSpan is newSpan with ids derived from one number, like the tests'
// _build_span(seed).
func seqSpan(rolloutID, attemptID string, seq int, name string) model.Span {
	return newSpan(rolloutID, attemptID, seq, hexID(seq, 32), hexID(seq, 16), nil, name)
}

// otelSpan mimics the mock ReadableSpan of Agent Lightning's conftest: one
// trace, a fresh span id per call, sequence id left for the caller.
func (f *fixture) otelSpan(rolloutID, attemptID string) model.Span {
	f.spans++
	sp := newSpan(rolloutID, attemptID, 0, hexID(111111, 32), hexID(222222+f.spans, 16), nil, "test_span")
	sp.Attributes = model.Attributes{"test": "value"}
	if f.clock != nil {
		sp.StartTime = model.Ptr(f.now())
		sp.EndTime = model.Ptr(f.now() + 0.001)
	}
	return sp
}

// addOtelSpan is add_otel_span without a sequence id: allocate one, then add.
func (f *fixture) addOtelSpan(rolloutID, attemptID string) *model.Span {
	f.t.Helper()
	sp, err := f.tryOtelSpan(rolloutID, attemptID, 0)
	require.NoError(f.t, err)
	require.NotNil(f.t, sp)
	return sp
}

// tryOtelSpan is add_otel_span; seq 0 asks for an allocated sequence id.
func (f *fixture) tryOtelSpan(rolloutID, attemptID string, seq int) (*model.Span, error) {
	f.t.Helper()
	sp := f.otelSpan(rolloutID, attemptID)
	if seq == 0 {
		ids, err := f.s.NextSequenceIDs(f.ctx, []store.SequenceKey{{RolloutID: rolloutID, AttemptID: attemptID}})
		if err != nil {
			return nil, err
		}
		require.Len(f.t, ids, 1)
		seq = ids[0]
	}
	sp.SequenceID = seq
	return f.s.AddSpan(f.ctx, sp)
}

func (f *fixture) nextSeq(rolloutID, attemptID string) int {
	f.t.Helper()
	ids, err := f.s.NextSequenceIDs(f.ctx, []store.SequenceKey{{RolloutID: rolloutID, AttemptID: attemptID}})
	require.NoError(f.t, err)
	require.Len(f.t, ids, 1)
	return ids[0]
}

func (f *fixture) addSpan(sp model.Span) *model.Span {
	f.t.Helper()
	got, err := f.s.AddSpan(f.ctx, sp)
	require.NoError(f.t, err)
	require.NotNil(f.t, got)
	return got
}

func (f *fixture) querySpans(q store.SpanQuery) model.Paginated[model.Span] {
	f.t.Helper()
	p, err := f.s.QuerySpans(f.ctx, q)
	require.NoError(f.t, err)
	return p
}

func (f *fixture) spansOf(rolloutID string) []model.Span {
	f.t.Helper()
	return f.querySpans(spanQuery(rolloutID)).Items
}

func spanIDs(sps []model.Span) []string {
	out := make([]string, len(sps))
	for i, sp := range sps {
		out[i] = sp.SpanID
	}
	return out
}

// extraSpanJSON is a span carrying unknown keys at every level that allows
// them (Span, TraceStatus, Event, Link, SpanContext), as the Python SDK
// conversion produces.
const extraSpanJSON = `{
  "rollout_id": %q, "attempt_id": %q, "sequence_id": %d,
  "trace_id": "trace-1", "span_id": "span-extra", "parent_id": "span-root", "name": "openai.chat.completion",
  "status": {"status_code": "ERROR", "description": "boom", "status_extra": [1, 2]},
  "attributes": {"gen_ai.request.model": "m", "llm.count": 3, "ratio": 0.5, "ok": true, "tags": ["a", "b"], "ints": [1, 2]},
  "events": [{"name": "ev", "attributes": {"k": "v"}, "timestamp": 1700000000.25, "event_extra": {"x": null}}],
  "links": [{"context": {"trace_id": "t2", "span_id": "s2", "is_remote": true, "trace_state": {"vendor": "1"}, "ctx_extra": "y"},
             "attributes": null, "link_extra": 7}],
  "start_time": 1700000000.5, "end_time": 1700000001.75,
  "context": {"trace_id": "trace-1", "span_id": "span-extra", "is_remote": false, "trace_state": {}, "context_extra": {"deep": [true]}},
  "parent": {"trace_id": "trace-1", "span_id": "span-root", "is_remote": false, "trace_state": {}},
  "resource": {"attributes": {"service.name": "agent"}, "schema_url": "https://opentelemetry.io/schemas/1.21.0"},
  "kind": "SpanKind.INTERNAL",
  "instrumentation_scope": "InstrumentationScope(name='x')",
  "dropped_attributes": 0
}`

func extraSpan(t *testing.T, rolloutID, attemptID string, seq int) (model.Span, string) {
	t.Helper()
	doc := fmt.Sprintf(extraSpanJSON, rolloutID, attemptID, seq)
	var sp model.Span
	require.NoError(t, json.Unmarshal([]byte(doc), &sp))
	return sp, doc
}

// testSpans covers span storage, sequence ids and heartbeats (facts 1–3,
// spec §2.3 add_span/add_many_spans/sequence ids, §2.4).
func (s suite) testSpans(t *testing.T) {
	t.Run("sequence ids come from one counter per rollout", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"data"}`)
		require.NotNil(t, f.dequeue())
		aid := f.attempts(r.RolloutID)[0].AttemptID
		assert.Equal(t, 1, f.nextSeq(r.RolloutID, aid))
		assert.Equal(t, 2, f.addOtelSpan(r.RolloutID, aid).SequenceID)
		assert.Equal(t, 3, f.nextSeq(r.RolloutID, aid))
		assert.Equal(t, 4, f.addOtelSpan(r.RolloutID, aid).SequenceID)
		assert.Equal(t, 5, f.nextSeq(r.RolloutID, "attempt-does-not-exist"))
	})

	t.Run("bulk sequence ids are handed out in request order", func(t *testing.T) {
		f := s.fresh(t)
		first := f.startRollout(`{"origin":"bulk-seq"}`)
		second := f.startRollout(`{"origin":"bulk-seq-2"}`)
		f.setRolloutStatus(first.RolloutID, model.RolloutRequeuing)
		retried := f.startAttempt(first.RolloutID)
		ids, err := f.s.NextSequenceIDs(f.ctx, []store.SequenceKey{
			{RolloutID: first.RolloutID, AttemptID: first.Attempt.AttemptID},
			{RolloutID: second.RolloutID, AttemptID: second.Attempt.AttemptID},
			{RolloutID: first.RolloutID, AttemptID: retried.Attempt.AttemptID},
			{RolloutID: first.RolloutID, AttemptID: first.Attempt.AttemptID},
		})
		require.NoError(t, err)
		assert.Equal(t, []int{1, 1, 2, 3}, ids)
		assert.Equal(t, 4, f.nextSeq(first.RolloutID, first.Attempt.AttemptID))
		assert.Equal(t, 2, f.nextSeq(second.RolloutID, second.Attempt.AttemptID))
	})

	t.Run("sequence id allocation does not validate ids", func(t *testing.T) {
		f := s.fresh(t)
		assert.Equal(t, 1, f.nextSeq("ghost", "at-ghost"))
		assert.Equal(t, 2, f.nextSeq("ghost", "other"))
		ids, err := f.s.NextSequenceIDs(f.ctx, nil)
		require.NoError(t, err)
		assert.Empty(t, ids)
	})

	t.Run("an explicit sequence id raises the counter", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"data"}`)
		require.NotNil(t, f.dequeue())
		aid := f.attempts(r.RolloutID)[0].AttemptID
		sp, err := f.tryOtelSpan(r.RolloutID, aid, 100)
		require.NoError(t, err)
		require.NotNil(t, sp)
		assert.Equal(t, 100, sp.SequenceID)
		assert.Equal(t, 101, f.nextSeq(r.RolloutID, aid))

		low, err := f.tryOtelSpan(r.RolloutID, aid, 5)
		require.NoError(t, err)
		require.NotNil(t, low)
		assert.Equal(t, 5, low.SequenceID, "a lower explicit id is stored as given")
		assert.Equal(t, 102, f.nextSeq(r.RolloutID, aid), "and never lowers the counter")
	})

	t.Run("add span returns the span, then nothing for a duplicate", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{"origin":"duplicate-span"}`)
		sp := newSpan(r.RolloutID, r.Attempt.AttemptID, 1, hexID(0, 32), hexID(0, 16), nil, "dup-span")
		got, err := f.s.AddSpan(f.ctx, sp)
		require.NoError(t, err)
		require.NotNil(t, got)
		assert.JSONEq(t, mustJSON(t, sp), mustJSON(t, got))

		dup, err := f.s.AddSpan(f.ctx, sp)
		require.NoError(t, err, "a duplicate is not an error")
		assert.Nil(t, dup)
		assert.Len(t, f.spansOf(r.RolloutID), 1)
	})

	t.Run("a duplicate otel span is dropped", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"data"}`)
		require.NotNil(t, f.dequeue())
		aid := f.attempts(r.RolloutID)[0].AttemptID
		sp := f.otelSpan(r.RolloutID, aid)
		sp.SequenceID = f.nextSeq(r.RolloutID, aid)
		f.addSpan(sp)
		sp.SequenceID = f.nextSeq(r.RolloutID, aid)
		dup, err := f.s.AddSpan(f.ctx, sp)
		require.NoError(t, err)
		assert.Nil(t, dup)
		stored := f.spansOf(r.RolloutID)
		require.Len(t, stored, 1)
		assert.Equal(t, 1, stored[0].SequenceID, "the first copy is kept")
	})

	t.Run("the span key is rollout, attempt and span id", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		a2 := f.startAttempt(r.RolloutID)
		other := f.startRollout(`{}`)
		f.addSpan(seqSpan(r.RolloutID, r.Attempt.AttemptID, 1, "a"))
		f.addSpan(seqSpan(r.RolloutID, a2.Attempt.AttemptID, 1, "b"))
		f.addSpan(seqSpan(other.RolloutID, other.Attempt.AttemptID, 1, "c"))
		assert.Len(t, f.spansOf(r.RolloutID), 2)
		assert.Len(t, f.spansOf(other.RolloutID), 1)
	})

	t.Run("add many spans stores mixed rollouts and skips duplicates", func(t *testing.T) {
		f := s.fresh(t)
		first := f.startRollout(`{"origin":"batch-spans"}`)
		second := f.startRollout(`{"origin":"batch-spans-2"}`)
		f.setRolloutStatus(first.RolloutID, model.RolloutRequeuing)
		retried := f.startAttempt(first.RolloutID)

		spFirst := seqSpan(first.RolloutID, first.Attempt.AttemptID, 1, "batch-span-1")
		spRetry := seqSpan(retried.RolloutID, retried.Attempt.AttemptID, 2, "batch-span-2")
		spSecond := seqSpan(second.RolloutID, second.Attempt.AttemptID, 3, "batch-span-3")
		dup := seqSpan(first.RolloutID, first.Attempt.AttemptID, 1, "batch-span-1")

		stored, err := f.s.AddSpans(f.ctx, []model.Span{spFirst, spRetry, spSecond, dup})
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{spFirst.SpanID, spRetry.SpanID, spSecond.SpanID}, spanIDs(stored))
		assert.Len(t, stored, 3)

		firstSpans := f.spansOf(first.RolloutID)
		assert.ElementsMatch(t, []string{spFirst.SpanID, spRetry.SpanID}, spanIDs(firstSpans))
		assert.Equal(t, []string{spSecond.SpanID}, spanIDs(f.spansOf(second.RolloutID)))

		// One heartbeat per (rollout, attempt) group.
		for _, a := range append(f.attempts(first.RolloutID), f.attempts(second.RolloutID)...) {
			assert.Equal(t, model.AttemptRunning, a.Status, a.AttemptID)
			assert.NotNil(t, a.LastHeartbeatTime, a.AttemptID)
		}
		assert.Equal(t, 4, f.nextSeq(second.RolloutID, ""), "the counter follows the largest explicit id")
	})

	t.Run("add many spans fails on an unknown attempt", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		bad := seqSpan(r.RolloutID, "attempt-missing", 2, "bad")
		_, err := f.s.AddSpans(f.ctx, []model.Span{seqSpan(r.RolloutID, r.Attempt.AttemptID, 1, "good"), bad})
		requireValueError(t, err, fmt.Sprintf("Attempt attempt-missing not found for rollout %s", r.RolloutID))
		assert.NotContains(t, spanIDs(f.spansOf(r.RolloutID)), bad.SpanID)

		_, err = f.s.AddSpans(f.ctx, []model.Span{seqSpan("nonexistent", "at-1", 1, "x")})
		requireValueError(t, err, "Rollout nonexistent not found")
	})

	t.Run("adding a span to an unknown rollout or attempt is a ValueError", func(t *testing.T) {
		f := s.fresh(t)
		_, err := f.tryOtelSpan("nonexistent", "attempt-1", 0)
		requireValueError(t, err, "Rollout nonexistent not found")

		r := f.enqueue(`{"test":"data"}`)
		require.NotNil(t, f.dequeue())
		_, err = f.s.AddSpan(f.ctx, seqSpan(r.RolloutID, "attempt-missing", 1, "x"))
		requireValueError(t, err, fmt.Sprintf("Attempt attempt-missing not found for rollout %s", r.RolloutID))
		assert.Empty(t, f.spansOf(r.RolloutID))
	})

	t.Run("a span is a heartbeat that promotes a preparing attempt and rollout", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"preparing-heartbeat"}`)
		require.NotNil(t, f.dequeue())
		before := f.attempts(r.RolloutID)[0]
		assert.Equal(t, model.AttemptPreparing, before.Status)
		assert.Nil(t, before.LastHeartbeatTime)

		f.advance(1234.5)
		f.addOtelSpan(r.RolloutID, before.AttemptID)
		after := f.attempts(r.RolloutID)[0]
		assert.Equal(t, model.AttemptRunning, after.Status)
		require.NotNil(t, after.LastHeartbeatTime)
		assert.InDelta(t, f.now(), *after.LastHeartbeatTime, 1e-6)
		assert.Equal(t, model.RolloutRunning, f.rolloutStatus(r.RolloutID))
		assert.Equal(t, []string{r.RolloutID}, rolloutIDs(f.queryRollouts(byStatus(model.RolloutRunning)).Items))
	})

	t.Run("the heartbeat advances with every span", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"running-heartbeat"}`)
		require.NotNil(t, f.dequeue())
		aid := f.attempts(r.RolloutID)[0].AttemptID
		f.addOtelSpan(r.RolloutID, aid)
		firstHB := f.attempts(r.RolloutID)[0].LastHeartbeatTime
		require.NotNil(t, firstHB)
		f.advance(100)
		f.addOtelSpan(r.RolloutID, aid)
		second := f.attempts(r.RolloutID)[0].LastHeartbeatTime
		require.NotNil(t, second)
		assert.InDelta(t, *firstHB+100, *second, 1e-6)
	})

	for _, c := range []struct {
		from, to model.AttemptStatus
	}{
		{model.AttemptPreparing, model.AttemptRunning},
		{model.AttemptUnresponsive, model.AttemptRunning},
		{model.AttemptRunning, model.AttemptRunning},
		{model.AttemptFailed, model.AttemptFailed},
		{model.AttemptSucceeded, model.AttemptSucceeded},
		{model.AttemptTimeout, model.AttemptTimeout},
	} {
		t.Run(fmt.Sprintf("a span moves a %s attempt to %s", c.from, c.to), func(t *testing.T) {
			f := s.fresh(t)
			r := f.startRollout(`{}`)
			aid := r.Attempt.AttemptID
			if c.from != model.AttemptPreparing {
				f.setAttemptStatus(r.RolloutID, aid, c.from)
			}
			before := f.mustRollout(r.RolloutID).Status
			f.advance(5)
			f.addOtelSpan(r.RolloutID, aid)
			a := f.mustLatest(r.RolloutID)
			assert.Equal(t, c.to, a.Status)
			require.NotNil(t, a.LastHeartbeatTime, "the heartbeat is refreshed whatever the status")
			assert.InDelta(t, f.now(), *a.LastHeartbeatTime, 1e-6)
			if c.to != model.AttemptRunning {
				assert.Equal(t, before, f.rolloutStatus(r.RolloutID), "an ended attempt leaves the rollout alone")
			}
		})
	}

	t.Run("a timed-out attempt stays timed out", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"timeout-span"}`)
		d := f.dequeue()
		require.NotNil(t, d)
		f.setAttemptStatus(r.RolloutID, d.Attempt.AttemptID, model.AttemptTimeout)
		assert.Equal(t, model.AttemptTimeout, f.attempts(r.RolloutID)[0].Status)
		before := f.rolloutStatus(r.RolloutID)
		assert.Equal(t, model.RolloutFailed, before)

		f.addOtelSpan(r.RolloutID, d.Attempt.AttemptID)
		after := f.attempts(r.RolloutID)[0]
		assert.Equal(t, model.AttemptTimeout, after.Status)
		assert.NotNil(t, after.LastHeartbeatTime)
		assert.Equal(t, before, f.rolloutStatus(r.RolloutID))
	})

	for _, c := range []struct {
		from, to model.RolloutStatus
	}{
		{model.RolloutPreparing, model.RolloutRunning},
		{model.RolloutRequeuing, model.RolloutRunning},
		// Agent Lightning compares against a misspelled status, so a
		// queuing rollout never moves (fact 3).
		{model.RolloutQueuing, model.RolloutQueuing},
		{model.RolloutRunning, model.RolloutRunning},
		{model.RolloutSucceeded, model.RolloutSucceeded},
		{model.RolloutCancelled, model.RolloutCancelled},
	} {
		t.Run(fmt.Sprintf("a span on the latest attempt moves a %s rollout to %s", c.from, c.to), func(t *testing.T) {
			f := s.fresh(t)
			r := f.startRollout(`{}`)
			f.setRolloutStatus(r.RolloutID, c.from)
			f.addOtelSpan(r.RolloutID, r.Attempt.AttemptID)
			assert.Equal(t, c.to, f.rolloutStatus(r.RolloutID))
			assert.Equal(t, model.AttemptRunning, f.mustLatest(r.RolloutID).Status)
		})
	}

	t.Run("a span on an older attempt leaves the rollout alone", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		f.startAttempt(r.RolloutID)
		f.addOtelSpan(r.RolloutID, r.Attempt.AttemptID)
		assert.Equal(t, model.RolloutPreparing, f.rolloutStatus(r.RolloutID))
		as := f.attempts(r.RolloutID)
		assert.Equal(t, []model.AttemptStatus{model.AttemptRunning, model.AttemptPreparing}, attemptStatuses(as))
	})

	t.Run("a span round-trips unknown keys and every declared field", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		sp, doc := extraSpan(t, r.RolloutID, r.Attempt.AttemptID, 7)
		require.JSONEq(t, doc, mustJSON(t, sp), "the model keeps the extras")
		got := f.addSpan(sp)
		assert.JSONEq(t, doc, mustJSON(t, got))
		stored := f.spansOf(r.RolloutID)
		require.Len(t, stored, 1)
		assert.JSONEq(t, doc, mustJSON(t, stored[0]))
	})

	t.Run("raw spans are the bytes the decoded spans encode to", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		sp, _ := extraSpan(t, r.RolloutID, r.Attempt.AttemptID, 7)
		f.addSpan(sp)
		plain := f.addSpan(model.Span{RolloutID: r.RolloutID, AttemptID: r.Attempt.AttemptID, SequenceID: 8, TraceID: "t",
			SpanID: "plain", Name: "plain <&>", Attributes: model.Attributes{"ids": []any{json.Number("1"), json.Number("2")}, "f": json.Number("0.5")}})
		require.NotNil(t, plain)
		q := spanQuery(r.RolloutID)
		decoded := f.querySpans(q)
		raw, err := f.s.QuerySpansRaw(f.ctx, q)
		require.NoError(t, err)
		require.Len(t, raw.Items, len(decoded.Items))
		assert.Equal(t, decoded.Total, raw.Total)
		for i := range raw.Items {
			assert.Equal(t, mustJSON(t, decoded.Items[i]), string(raw.Items[i]))
		}
	})

	t.Run("spans share sequence ids and keep insertion order on ties", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		aid := r.Attempt.AttemptID
		for _, c := range []struct {
			seq  int
			name string
		}{{5, "a"}, {3, "b"}, {5, "c"}, {1, "d"}, {3, "e"}} {
			sp := newSpan(r.RolloutID, aid, c.seq, hexID(1, 32), "span-"+c.name, nil, c.name)
			f.addSpan(sp)
		}
		assert.Equal(t, []string{"span-d", "span-b", "span-e", "span-a", "span-c"}, spanIDs(f.spansOf(r.RolloutID)))
	})

	t.Run("no clobbering between span heartbeats and attempt updates", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{"test":"span-concurrency"}`)
		d := f.dequeue()
		require.NotNil(t, d)
		aid := d.Attempt.AttemptID
		spans := make([]model.Span, 20)
		for i := range spans {
			spans[i] = f.otelSpan(r.RolloutID, aid)
			spans[i].SequenceID = i + 1
		}
		errs := make(chan error, len(spans)+1)
		go func() {
			_, err := f.s.UpdateAttempt(f.ctx, r.RolloutID, aid, store.AttemptUpdate{Metadata: store.To(json.RawMessage(`{"concurrent":true}`))})
			errs <- err
		}()
		for _, sp := range spans {
			go func() {
				_, err := f.s.AddSpan(f.ctx, sp)
				errs <- err
			}()
		}
		for range len(spans) + 1 {
			require.NoError(t, <-errs)
		}
		a := f.attempts(r.RolloutID)[0]
		requireJSONEq(t, `{"concurrent":true}`, a.Metadata)
		assert.Equal(t, model.AttemptRunning, a.Status)
		assert.Len(t, f.spansOf(r.RolloutID), len(spans))
	})
}
