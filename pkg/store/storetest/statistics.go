package storetest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func (f *fixture) statistics() map[string]any {
	f.t.Helper()
	st, err := f.s.Statistics(f.ctx)
	require.NoError(f.t, err)
	require.NotNil(f.t, st)
	return st
}

func statInt(t *testing.T, st map[string]any, key string) int {
	t.Helper()
	v, ok := st[key]
	require.True(t, ok, "statistics has %s", key)
	n, ok := v.(int)
	require.True(t, ok, "%s is an int, got %T", key, v)
	return n
}

func statUptime(t *testing.T, st map[string]any) float64 {
	t.Helper()
	v, ok := st["uptime"].(float64)
	require.True(t, ok, "uptime is float seconds, got %T", st["uptime"])
	return v
}

// testStatistics covers statistics (spec §1.11, §6.4 row "statistics").
func (s suite) testStatistics(t *testing.T) {
	t.Run("statistics count every entity", func(t *testing.T) {
		f := s.fresh(t)
		initial := f.statistics()
		name, ok := initial["name"].(string)
		require.True(t, ok, "name is a string")
		assert.NotEmpty(t, name)
		keys := []string{"total_rollouts", "total_attempts", "total_spans", "total_resources", "total_workers"}
		for _, k := range keys {
			assert.Zero(t, statInt(t, initial, k), k)
		}
		before := statUptime(t, initial)

		r := f.startRollout(`{"origin":"stats"}`)
		f.addOtelSpan(r.RolloutID, r.Attempt.AttemptID)
		f.addResources(resources(t, "stat_llm", `{"resource_type":"llm","endpoint":"http://localhost:8000/v1","model":"stats-model"}`))
		f.heartbeat("stats-worker", `{"cpu":0.5}`)
		f.advance(2)

		updated := f.statistics()
		assert.Equal(t, name, updated["name"])
		for _, k := range keys {
			assert.Equal(t, 1, statInt(t, updated, k), k)
		}
		assert.Greater(t, statUptime(t, updated), before)
	})

	t.Run("statistics follow bulk operations", func(t *testing.T) {
		f := s.fresh(t)
		for range 3 {
			f.enqueue(`{}`)
		}
		r := f.startRollout(`{}`)
		a2 := f.startAttempt(r.RolloutID)
		f.ingest(item(f.otelSpan(r.RolloutID, r.Attempt.AttemptID)), item(f.otelSpan(r.RolloutID, a2.Attempt.AttemptID)))
		f.heartbeat("w1", `{}`)
		f.dequeueBy("w2")
		f.updateResources("a", resources(t, "p", prompt("a")))
		f.updateResources("a", resources(t, "p", prompt("b")))
		st := f.statistics()
		assert.Equal(t, 4, statInt(t, st, "total_rollouts"))
		assert.Equal(t, 3, statInt(t, st, "total_attempts"))
		assert.Equal(t, 2, statInt(t, st, "total_spans"))
		assert.Equal(t, 2, statInt(t, st, "total_workers"))
		assert.Equal(t, 1, statInt(t, st, "total_resources"), "an update is not a new snapshot")
	})
}
