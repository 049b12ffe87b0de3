// Package storetest is the store conformance suite: the single, executable
// definition of how a store.Store behaves (Agent Lightning v0.3 semantics,
// spec §2 and the test table of §6.4, plus the collector's own additions).
// Every backend runs it through store.New:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, opts store.Options) store.Store {
//			return store.New(memstore.New(), opts)
//		})
//	}
//
// The suite only uses the public store.Store interface, so it also fits a
// remote store reached over REST.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// NewStoreFunc builds a fresh, empty store with the given options. The suite
// closes it when the subtest ends.
type NewStoreFunc func(t *testing.T, opts store.Options) store.Store

// Run runs the whole conformance suite, one subtest per case, each on a
// fresh store.
func Run(t *testing.T, newStore NewStoreFunc) {
	s := suite{newStore: newStore}
	groups := []struct {
		name string
		run  func(*testing.T)
	}{
		{"Rollouts", s.testRollouts},
		{"Queries", s.testQueries},
		{"Queue", s.testQueue},
		{"Attempts", s.testAttempts},
		{"Propagation", s.testPropagation},
		{"Spans", s.testSpans},
		{"SpanQueries", s.testSpanQueries},
		{"Ingest", s.testIngest},
		{"Depth", s.testDepth},
		{"RolloutDepth", s.testRolloutDepth},
		{"Resources", s.testResources},
		{"Workers", s.testWorkers},
		{"Watchdog", s.testWatchdog},
		{"Waits", s.testWaits},
		{"Concurrency", s.testConcurrency},
		{"TripletsAndMessages", s.testTriplets},
		{"Statistics", s.testStatistics},
		{"Browse", s.testBrowse},
		{"Lifecycle", s.testLifecycle},
		{"AgentLightningV1", s.testV1},
	}
	for _, g := range groups {
		t.Run(g.name, g.run)
	}
}

type suite struct{ newStore NewStoreFunc }

// epoch is where every fake clock starts; a round number makes expected
// timestamps easy to read in failures.
var epoch = time.Unix(1_700_000_000, 0)

// fixture is one fresh store with its clock and a few shortcuts that fail the
// test on unexpected errors.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	s     store.Store
	clock *Clock // nil when the store runs on real time
	spans int    // counter behind otelSpan's span ids
	bg    sync.WaitGroup
}

// fresh returns a store on a fake clock with the watchdog scanning before
// every call (Agent Lightning's test fixture uses scan_debounce_seconds=0).
func (s suite) fresh(t *testing.T) *fixture {
	return s.freshWith(t, store.Options{})
}

// freshWith returns a store on a fake clock with the given options.
func (s suite) freshWith(t *testing.T, opts store.Options) *fixture {
	clock := NewClock(epoch)
	opts.Clock = clock.Now
	f := s.open(t, opts)
	f.clock = clock
	return f
}

// realTime returns a store on the real clock, for waits and the ticker.
func (s suite) realTime(t *testing.T, opts store.Options) *fixture {
	opts.Clock = nil
	return s.open(t, opts)
}

func (s suite) open(t *testing.T, opts store.Options) *fixture {
	t.Helper()
	st := s.newStore(t, opts)
	require.NotNil(t, st, "newStore returned nil")
	t.Cleanup(func() { _ = st.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	f := &fixture{t: t, ctx: ctx, s: st}
	// Cleanups run last-registered first: cancel what is still waiting,
	// let background helpers finish, then close the store.
	t.Cleanup(f.bg.Wait)
	t.Cleanup(cancel)
	return f
}

// now is the fake clock in float seconds.
func (f *fixture) now() float64 { return f.clock.Seconds() }

// advance moves the fake clock by s seconds.
func (f *fixture) advance(s float64) { f.clock.Advance(secondsDuration(s)) }

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// --- pages and queries --------------------------------------------------

func allPage() store.Page { return store.AllPage() }

func sortedPage(field, order string, limit, offset int) store.Page {
	return store.Page{SortBy: &field, SortOrder: order, Limit: limit, Offset: offset}
}

func rolloutQuery() store.RolloutQuery {
	return store.RolloutQuery{FilterLogic: store.LogicAnd, Page: allPage()}
}

func byStatus(statuses ...model.RolloutStatus) store.RolloutQuery {
	q := rolloutQuery()
	q.StatusIn = append([]model.RolloutStatus{}, statuses...)
	return q
}

func byIDs(ids ...string) store.RolloutQuery {
	q := rolloutQuery()
	q.RolloutIDIn = append([]string{}, ids...)
	return q
}

func attemptQuery(rolloutID string) store.AttemptQuery {
	return store.AttemptQuery{RolloutID: rolloutID, Page: allPage()}
}

func spanQuery(rolloutID string) store.SpanQuery {
	return store.SpanQuery{RolloutID: rolloutID, FilterLogic: store.LogicAnd, Page: allPage()}
}

func workerQuery() store.WorkerQuery {
	return store.WorkerQuery{FilterLogic: store.LogicAnd, Page: allPage()}
}

func resourcesQuery() store.ResourcesQuery { return store.ResourcesQuery{Page: allPage()} }

// --- rollouts -------------------------------------------------------------

func (f *fixture) enqueue(input string) model.Rollout {
	f.t.Helper()
	return f.enqueueWith(model.EnqueueRolloutRequest{Input: raw(input)})
}

func (f *fixture) enqueueWith(req model.EnqueueRolloutRequest) model.Rollout {
	f.t.Helper()
	rs, err := f.s.EnqueueRollouts(f.ctx, []model.EnqueueRolloutRequest{req})
	require.NoError(f.t, err)
	require.Len(f.t, rs, 1)
	return rs[0]
}

func (f *fixture) startRollout(input string) *model.Rollout {
	f.t.Helper()
	return f.startWith(store.StartRolloutRequest{Input: raw(input)})
}

func (f *fixture) startWith(req store.StartRolloutRequest) *model.Rollout {
	f.t.Helper()
	r, err := f.s.StartRollout(f.ctx, req)
	require.NoError(f.t, err)
	require.NotNil(f.t, r)
	require.NotNil(f.t, r.Attempt, "start_rollout returns an AttemptedRollout")
	return r
}

// dequeue claims one rollout like dequeue_rollout: nil when nothing is queued.
func (f *fixture) dequeue() *model.Rollout {
	f.t.Helper()
	return f.dequeueAs(nil)
}

func (f *fixture) dequeueBy(workerID string) *model.Rollout {
	f.t.Helper()
	return f.dequeueAs(&workerID)
}

func (f *fixture) dequeueAs(workerID *string) *model.Rollout {
	f.t.Helper()
	rs, err := f.s.DequeueRollouts(f.ctx, 1, workerID)
	require.NoError(f.t, err)
	require.LessOrEqual(f.t, len(rs), 1)
	if len(rs) == 0 {
		return nil
	}
	require.NotNil(f.t, rs[0].Attempt, "a dequeued rollout carries its new attempt")
	return &rs[0]
}

func (f *fixture) startAttempt(rolloutID string) *model.Rollout {
	f.t.Helper()
	r, err := f.s.StartAttempt(f.ctx, rolloutID, nil)
	require.NoError(f.t, err)
	require.NotNil(f.t, r)
	require.NotNil(f.t, r.Attempt)
	return r
}

func (f *fixture) getRollout(rolloutID string) *model.Rollout {
	f.t.Helper()
	r, err := f.s.GetRollout(f.ctx, rolloutID)
	require.NoError(f.t, err)
	return r
}

func (f *fixture) mustRollout(rolloutID string) *model.Rollout {
	f.t.Helper()
	r := f.getRollout(rolloutID)
	require.NotNil(f.t, r, "rollout %s", rolloutID)
	return r
}

func (f *fixture) queryRollouts(q store.RolloutQuery) model.Paginated[model.Rollout] {
	f.t.Helper()
	p, err := f.s.QueryRollouts(f.ctx, q)
	require.NoError(f.t, err)
	return p
}

func (f *fixture) allRollouts() []model.Rollout {
	f.t.Helper()
	return f.queryRollouts(rolloutQuery()).Items
}

func (f *fixture) updateRollout(rolloutID string, u store.RolloutUpdate) *model.Rollout {
	f.t.Helper()
	r, err := f.s.UpdateRollout(f.ctx, rolloutID, u)
	require.NoError(f.t, err)
	require.NotNil(f.t, r)
	return r
}

func (f *fixture) setRolloutStatus(rolloutID string, s model.RolloutStatus) *model.Rollout {
	f.t.Helper()
	return f.updateRollout(rolloutID, store.RolloutUpdate{Status: store.To(s)})
}

func (f *fixture) setConfig(rolloutID string, c model.RolloutConfig) *model.Rollout {
	f.t.Helper()
	return f.updateRollout(rolloutID, store.RolloutUpdate{Config: store.To(c)})
}

func (f *fixture) rolloutStatus(rolloutID string) model.RolloutStatus {
	f.t.Helper()
	return f.mustRollout(rolloutID).Status
}

// --- attempts -------------------------------------------------------------

func (f *fixture) attempts(rolloutID string) []model.Attempt {
	f.t.Helper()
	p, err := f.s.QueryAttempts(f.ctx, attemptQuery(rolloutID))
	require.NoError(f.t, err)
	return p.Items
}

func (f *fixture) latest(rolloutID string) *model.Attempt {
	f.t.Helper()
	a, err := f.s.GetLatestAttempt(f.ctx, rolloutID)
	require.NoError(f.t, err)
	return a
}

func (f *fixture) mustLatest(rolloutID string) *model.Attempt {
	f.t.Helper()
	a := f.latest(rolloutID)
	require.NotNil(f.t, a, "latest attempt of %s", rolloutID)
	return a
}

func (f *fixture) updateAttempt(rolloutID, attemptID string, u store.AttemptUpdate) *model.Attempt {
	f.t.Helper()
	a, err := f.s.UpdateAttempt(f.ctx, rolloutID, attemptID, u)
	require.NoError(f.t, err)
	require.NotNil(f.t, a)
	return a
}

func (f *fixture) setAttemptStatus(rolloutID, attemptID string, s model.AttemptStatus) *model.Attempt {
	f.t.Helper()
	return f.updateAttempt(rolloutID, attemptID, store.AttemptUpdate{Status: store.To(s)})
}

func attemptStatuses(as []model.Attempt) []model.AttemptStatus {
	out := make([]model.AttemptStatus, len(as))
	for i, a := range as {
		out[i] = a.Status
	}
	return out
}

// --- workers --------------------------------------------------------------

func (f *fixture) worker(workerID string) *model.Worker {
	f.t.Helper()
	w, err := f.s.GetWorker(f.ctx, workerID)
	require.NoError(f.t, err)
	return w
}

func (f *fixture) mustWorker(workerID string) *model.Worker {
	f.t.Helper()
	w := f.worker(workerID)
	require.NotNil(f.t, w, "worker %s", workerID)
	return w
}

func (f *fixture) heartbeat(workerID string, stats string) *model.Worker {
	f.t.Helper()
	var b json.RawMessage
	if stats != "" {
		b = raw(stats)
	}
	w, err := f.s.UpdateWorker(f.ctx, workerID, b)
	require.NoError(f.t, err)
	require.NotNil(f.t, w)
	return w
}

// --- ids and errors -------------------------------------------------------

var (
	rolloutIDPattern   = regexp.MustCompile(`^ro-[0-9a-f]{12}$`)
	attemptIDPattern   = regexp.MustCompile(`^at-[0-9a-f]{8}$`)
	resourcesIDPattern = regexp.MustCompile(`^rs-[0-9a-f]{12}$`)
)

func rolloutIDs(rs []model.Rollout) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.RolloutID
	}
	return out
}

// requireValueError checks a store failure that Agent Lightning raises as
// ValueError with exactly this message (a 500 over REST).
func requireValueError(t *testing.T, err error, message string) {
	t.Helper()
	requireStoreError(t, err, "ValueError", regexp.MustCompile("^"+regexp.QuoteMeta(message)+"$"))
}

func requireStoreError(t *testing.T, err error, typ string, message *regexp.Regexp) {
	t.Helper()
	require.Error(t, err)
	var se *store.Error
	require.True(t, errors.As(err, &se), "want *store.Error, got %T: %v", err, err)
	require.Equal(t, typ, se.Type)
	require.Regexp(t, message, se.Message)
}

// requireInvalidArgument checks a request refused before touching data (a
// 400 over REST) with exactly Agent Lightning's message.
func requireInvalidArgument(t *testing.T, err error, message string) {
	t.Helper()
	require.Error(t, err)
	var ie *store.InvalidArgumentError
	require.True(t, errors.As(err, &ie), "want *store.InvalidArgumentError, got %T: %v", err, err)
	require.Equal(t, message, ie.Message)
}

// requireJSONEq compares two JSON documents, treating an empty value as null.
func requireJSONEq(t *testing.T, want string, got json.RawMessage, msgAndArgs ...any) {
	t.Helper()
	require.JSONEq(t, want, string(model.RawOrNull(got)), msgAndArgs...)
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			require.FailNow(t, fmt.Sprintf("timed out after %v waiting for %s", within, what))
		}
		time.Sleep(5 * time.Millisecond)
	}
}
