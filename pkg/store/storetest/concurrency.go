package storetest

import (
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// parallel runs fn(i) for i in [0, n) on n goroutines released together and
// returns the first error.
func parallel(n int, fn func(i int) error) error {
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func oneToN(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

// testConcurrency checks that every method appears atomic (spec §2.3,
// concurrency contract; §6.4 row "concurrency").
func (s suite) testConcurrency(t *testing.T) {
	t.Run("concurrent enqueues get unique ids", func(t *testing.T) {
		f := s.fresh(t)
		ids := make([]string, 50)
		require.NoError(t, parallel(50, func(i int) error {
			rs, err := f.s.EnqueueRollouts(f.ctx, []model.EnqueueRolloutRequest{{Input: raw(fmt.Sprintf(`{"index":%d}`, i))}})
			if err == nil {
				ids[i] = rs[0].RolloutID
			}
			return err
		}))
		seen := map[string]bool{}
		for _, id := range ids {
			assert.Regexp(t, rolloutIDPattern, id)
			seen[id] = true
		}
		assert.Len(t, seen, 50)
		assert.Len(t, f.allRollouts(), 50)
	})

	t.Run("concurrent dequeues claim each rollout once", func(t *testing.T) {
		f := s.fresh(t)
		for i := range 20 {
			f.enqueue(fmt.Sprintf(`{"index":%d}`, i))
		}
		claimed := make([]string, 30)
		require.NoError(t, parallel(30, func(i int) error {
			worker := fmt.Sprintf("w-%d", i)
			rs, err := f.s.DequeueRollouts(f.ctx, 1, &worker)
			if err == nil && len(rs) == 1 {
				claimed[i] = rs[0].RolloutID
			}
			return err
		}))
		seen := map[string]bool{}
		empty := 0
		for _, id := range claimed {
			if id == "" {
				empty++
				continue
			}
			seen[id] = true
		}
		assert.Len(t, seen, 20)
		assert.Equal(t, 10, empty)
		for id := range seen {
			assert.Len(t, f.attempts(id), 1, id)
		}
	})

	t.Run("concurrent spans get sequence ids 1 to 30", func(t *testing.T) {
		f := s.fresh(t)
		f.enqueue(`{"test":"data"}`)
		d := f.dequeue()
		require.NotNil(t, d)
		spans := make([]model.Span, 30)
		for i := range spans {
			spans[i] = f.otelSpan(d.RolloutID, d.Attempt.AttemptID)
		}
		seqs := make([]int, 30)
		require.NoError(t, parallel(30, func(i int) error {
			ids, err := f.s.NextSequenceIDs(f.ctx, []store.SequenceKey{{RolloutID: d.RolloutID, AttemptID: d.Attempt.AttemptID}})
			if err != nil {
				return err
			}
			sp := spans[i]
			sp.SequenceID = ids[0]
			got, err := f.s.AddSpan(f.ctx, sp)
			if err != nil {
				return err
			}
			if got == nil {
				return fmt.Errorf("span %d reported as duplicate", i)
			}
			seqs[i] = got.SequenceID
			return nil
		}))
		sort.Ints(seqs)
		assert.Equal(t, oneToN(30), seqs)
		assert.Len(t, f.spansOf(d.RolloutID), 30)
	})

	t.Run("concurrent ingests allocate sequence ids 1 to 30", func(t *testing.T) {
		f := s.fresh(t)
		r := f.startRollout(`{}`)
		spans := make([]model.Span, 30)
		for i := range spans {
			spans[i] = f.otelSpan(r.RolloutID, r.Attempt.AttemptID)
		}
		seqs := make([]int, 30)
		require.NoError(t, parallel(30, func(i int) error {
			res, err := f.s.IngestSpans(f.ctx, []store.IngestItem{{Span: spans[i]}})
			if err != nil {
				return err
			}
			if len(res.Stored) != 1 {
				return fmt.Errorf("span %d: stored %d, rejected %v", i, len(res.Stored), res.Rejected)
			}
			seqs[i] = res.Stored[0].SequenceID
			return nil
		}))
		sort.Ints(seqs)
		assert.Equal(t, oneToN(30), seqs)
		assert.Len(t, f.spansOf(r.RolloutID), 30)
	})

	t.Run("concurrent ingests create one rollout and attempt", func(t *testing.T) {
		f := s.fresh(t)
		spans := make([]model.Span, 20)
		for i := range spans {
			spans[i] = f.otelSpan("ro-shared", "at-shared")
		}
		require.NoError(t, parallel(len(spans), func(i int) error {
			res, err := f.s.IngestSpans(f.ctx, []store.IngestItem{{Span: spans[i], CreateMetadata: raw(`{}`)}})
			if err == nil && len(res.Stored) != 1 {
				err = fmt.Errorf("span %d: stored %d, rejected %v", i, len(res.Stored), res.Rejected)
			}
			return err
		}))
		assert.Len(t, f.attempts("ro-shared"), 1)
		assert.Len(t, f.spansOf("ro-shared"), len(spans))
	})

	t.Run("concurrent start attempts get distinct sequence ids", func(t *testing.T) {
		f := s.fresh(t)
		r := f.enqueue(`{}`)
		seqs := make([]int, 10)
		require.NoError(t, parallel(10, func(i int) error {
			got, err := f.s.StartAttempt(f.ctx, r.RolloutID, nil)
			if err == nil {
				seqs[i] = got.Attempt.SequenceID
			}
			return err
		}))
		sort.Ints(seqs)
		assert.Equal(t, oneToN(10), seqs)
		assert.Equal(t, 10, f.mustLatest(r.RolloutID).SequenceID)
	})

	t.Run("concurrent resource updates are all stored", func(t *testing.T) {
		f := s.fresh(t)
		require.NoError(t, parallel(50, func(i int) error {
			res, err := model.NormalizeResources(model.NamedResources{"llm": raw(fmt.Sprintf(
				`{"resource_type":"llm","endpoint":"http://localhost:808%d","model":"model-v%d","sampling_parameters":{"temperature":%v}}`,
				i%10, i, 0.5+float64(i)*0.01))})
			if err != nil {
				return err
			}
			_, err = f.s.UpdateResources(f.ctx, fmt.Sprintf("v%d", i), res)
			return err
		}))
		latest := f.latestResources()
		require.NotNil(t, latest)
		assert.Regexp(t, `^v\d+$`, latest.ResourcesID)
		for i := range 50 {
			u := f.resourcesByID(fmt.Sprintf("v%d", i))
			require.NotNil(t, u, i)
			assert.Equal(t, 1, u.Version)
			assert.Contains(t, string(u.Resources["llm"]), fmt.Sprintf(`"model-v%d"`, i))
		}
		assert.Len(t, f.queryResources(resourcesQuery()).Items, 50)
	})

	t.Run("concurrent updates of one snapshot count every version", func(t *testing.T) {
		f := s.fresh(t)
		res := resources(t, "p", prompt("x"))
		require.NoError(t, parallel(20, func(int) error {
			_, err := f.s.UpdateResources(f.ctx, "shared", res)
			return err
		}))
		assert.Equal(t, 20, f.resourcesByID("shared").Version)
	})
}
