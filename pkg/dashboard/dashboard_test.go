package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/sqlitestore"
)

func newStore(t *testing.T) *store.Core {
	t.Helper()
	backend, err := sqlitestore.Open(filepath.Join(t.TempDir(), "s.db"))
	require.NoError(t, err)
	core := store.New(backend, store.Options{})
	t.Cleanup(func() { _ = core.Close() })
	return core
}

// newMux mounts the dashboard on a mux that already serves more specific
// routes, the way the store API's server does.
func newMux(t *testing.T, s Store, opts Options) *http.ServeMux {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("healthz")) })
	mux.HandleFunc("GET /api/v1/rollouts", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("v1")) })
	require.NoError(t, Register(func(p string, h http.Handler) error { mux.Handle(p, h); return nil }, s, opts))
	return mux
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

func TestRoutesKeepPrecedence(t *testing.T) {
	mux := newMux(t, newStore(t), Options{})
	code, body := get(t, mux, "/")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `<script type="module" src="/ui/app.js">`)
	for _, asset := range []string{"/ui/app.js", "/ui/dom.js", "/ui/chart.js", "/ui/diff.js", "/ui/style.css"} {
		code, _ := get(t, mux, asset)
		assert.Equal(t, http.StatusOK, code, asset)
	}
	code, body = get(t, mux, "/healthz")
	assert.Equal(t, "healthz", body)
	code, body = get(t, mux, "/api/v1/rollouts")
	assert.Equal(t, "v1", body)
	// "/" matches only itself: unknown paths stay 404 for the API's handler.
	code, _ = get(t, mux, "/nope")
	assert.Equal(t, http.StatusNotFound, code)
	code, _ = get(t, mux, "/ui/missing.js")
	assert.Equal(t, http.StatusNotFound, code)
}

func TestIsShell(t *testing.T) {
	for path, want := range map[string]bool{"/": true, "/ui/app.js": true, "/v1/lightning/dashboard/overview": false, "/v1/agl/rollouts": false, "/uix": false} {
		assert.Equal(t, want, IsShell(httptest.NewRequest(http.MethodGet, path, nil)), path)
	}
	assert.False(t, IsShell(httptest.NewRequest(http.MethodPost, "/", nil)))
}

func TestRolloutsRoute(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	mux := newMux(t, s, Options{})
	var ids []string
	for range 7 {
		r, err := s.StartRollout(ctx, store.StartRolloutRequest{Input: json.RawMessage(`{}`)})
		require.NoError(t, err)
		ids = append(ids, r.RolloutID)
	}
	reward := 0.75
	latest, err := s.GetLatestAttempt(ctx, ids[2])
	require.NoError(t, err)
	require.NoError(t, s.ReplaceTriplets(ctx, ids[2], latest.AttemptID, store.NextRevision, []model.TripletRecord{
		{SpanID: "s1", Triplet: model.Triplet{Reward: &reward}},
	}))

	var seen []string
	path := "/v1/lightning/dashboard/rollouts?limit=3&order=asc"
	for range 5 {
		code, body := get(t, mux, path)
		require.Equal(t, http.StatusOK, code, body)
		var page struct {
			Items []rolloutRow `json:"items"`
			Next  string       `json:"next"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &page))
		for _, it := range page.Items {
			seen = append(seen, it.RolloutID)
			if it.RolloutID == ids[2] {
				require.NotNil(t, it.Reward)
				assert.Equal(t, reward, *it.Reward)
			}
		}
		if page.Next == "" {
			break
		}
		path = "/v1/lightning/dashboard/rollouts?limit=3&order=asc&after=" + page.Next
	}
	assert.Equal(t, ids, seen)

	code, body := get(t, mux, "/v1/lightning/dashboard/rollouts?min_reward=0.5")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, ids[2])
	assert.NotContains(t, body, ids[1])

	for _, bad := range []string{"?limit=0", "?min_reward=x", "?sort=input", "?after=garbage!"} {
		code, body := get(t, mux, "/v1/lightning/dashboard/rollouts"+bad)
		assert.Equal(t, http.StatusBadRequest, code, bad+": "+body)
	}
	code, _ = get(t, mux, "/v1/lightning/dashboard/rollouts/ro-missing")
	assert.Equal(t, http.StatusNotFound, code)
}

func TestOverviewReadsMetrics(t *testing.T) {
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(strings.Join([]string{
			"# HELP otelcol_receiver_accepted_spans_total Spans accepted.",
			"# TYPE otelcol_receiver_accepted_spans_total counter",
			`otelcol_receiver_accepted_spans_total{receiver="otlp",transport="http",service_instance_id="x"} 40`,
			`otelcol_receiver_accepted_spans_total{receiver="lightningstore",transport="http"} 2`,
			`otelcol_exporter_lightningstore_spans_stored 42`,
			`otelcol_exporter_lightningstore_spans_rejected_total{reason="unknown_rollout"} 3 1700000000000`,
			`otelcol_processor_triplet_buffered_spans 5`,
			`otelcol_exporter_lightningstore_write_duration_bucket{le="1"} 9`,
			`garbage line`,
		}, "\n")))
	}))
	defer prom.Close()
	mux := newMux(t, newStore(t), Options{MetricsURL: prom.URL})
	code, body := get(t, mux, "/v1/lightning/dashboard/overview")
	require.Equal(t, http.StatusOK, code, body)
	var d struct {
		Metrics MetricsView `json:"metrics"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &d))
	byName := map[string]Metric{}
	for _, group := range [][]Metric{d.Metrics.Ingest, d.Metrics.Fill, d.Metrics.Problems} {
		for _, m := range group {
			byName[m.Name] = m
		}
	}
	assert.Empty(t, d.Metrics.Error)
	assert.Equal(t, 42.0, byName["otelcol_receiver_accepted_spans"].Value)
	assert.Equal(t, map[string]float64{`receiver="otlp",transport="http"`: 40, `receiver="lightningstore",transport="http"`: 2},
		byName["otelcol_receiver_accepted_spans"].Series)
	assert.Equal(t, 42.0, byName["otelcol_exporter_lightningstore_spans_stored"].Value)
	assert.Equal(t, 3.0, byName["otelcol_exporter_lightningstore_spans_rejected"].Value)
	assert.Contains(t, byName["otelcol_exporter_lightningstore_spans_rejected"].Fix, "unknown_rollouts")
	assert.Equal(t, []Metric{{Name: "otelcol_processor_triplet_buffered_spans", Value: 5}}, d.Metrics.Fill)

	// An endpoint that does not answer is reported, not fatal.
	mux = newMux(t, newStore(t), Options{MetricsURL: "http://127.0.0.1:1/metrics"})
	code, body = get(t, mux, "/v1/lightning/dashboard/overview")
	require.Equal(t, http.StatusOK, code)
	require.NoError(t, json.Unmarshal([]byte(body), &d))
	assert.Contains(t, d.Metrics.Error, "read the collector's metrics")
}

// The reward curve is computed once, served from memory, and recomputed in
// the background once older than curveTTL.
func TestRewardCurveCache(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	var now atomic.Int64
	now.Store(time.Unix(1_800_000_000, 0).UnixNano())
	mux := newMux(t, s, Options{Now: func() time.Time { return time.Unix(0, now.Load()) }})
	reward := func(v float64) {
		r, err := s.StartRollout(ctx, store.StartRolloutRequest{Input: json.RawMessage(`{}`)})
		require.NoError(t, err)
		require.NoError(t, s.ReplaceTriplets(ctx, r.RolloutID, r.Attempt.AttemptID, store.NextRevision,
			[]model.TripletRecord{{SpanID: "s", Triplet: model.Triplet{Reward: &v}}}))
	}
	count := func() int {
		code, body := get(t, mux, "/v1/lightning/dashboard/overview?bucket=86400")
		require.Equal(t, http.StatusOK, code, body)
		var d struct {
			Curve curveView `json:"reward_curve"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &d))
		n := 0
		for _, p := range d.Curve.Points {
			n += p.Count
		}
		return n
	}
	reward(1)
	assert.Equal(t, 1, count())
	reward(0)
	assert.Equal(t, 1, count(), "served from memory within the TTL")
	now.Add(int64(curveTTL))
	assert.Equal(t, 1, count(), "a stale curve is served while it is recomputed")
	require.Eventually(t, func() bool { return count() == 2 }, 5*time.Second, 10*time.Millisecond)
}
