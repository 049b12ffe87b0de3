package pgstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/internal/pgtest"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/pgstore"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/storetest"
)

// quiet keeps the watchdog out of tests that are about something else:
// with the default debounce of 0 every call would scan every active rollout.
var quiet = store.Options{ScanDebounce: time.Hour}

// cores opens n Cores on one fresh schema, as n collectors sharing a
// database would be.
func cores(t *testing.T, n int, opts store.Options) []*store.Core {
	t.Helper()
	dsn, schema := pgtest.Schema(t)
	out := make([]*store.Core, n)
	for i := range out {
		out[i] = store.New(openSchema(t, dsn, schema), opts)
		t.Cleanup(func() { _ = out[i].Close() })
	}
	return out
}

// query runs one statement on the schema through a connection of its own.
func query[T any](t *testing.T, dsn, schema, sql string, args ...any) []T {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "SET search_path TO "+pgx.Identifier{schema}.Sanitize())
	require.NoError(t, err)
	rows, err := conn.Query(ctx, sql, args...)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[T])
	require.NoError(t, err)
	return out
}

func span(rolloutID, attemptID, spanID string, seq int) model.Span {
	return model.Span{
		RolloutID: rolloutID, AttemptID: attemptID, SequenceID: seq,
		TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: spanID, Name: "span " + spanID,
		Attributes: model.Attributes{"n": spanID},
	}
}

func TestPostgresMigrationsIdempotent(t *testing.T) {
	dsn, schema := pgtest.Schema(t)

	// Collectors starting together: one migrates, the others find it done.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			b, err := pgstore.Open(context.Background(), pgstore.Config{DSN: dsn, Schema: schema})
			if err == nil {
				err = b.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	b := openSchema(t, dsn, schema)
	require.NoError(t, b.Close())
	assert.Equal(t, []int32{1, 2, 3, 4}, query[int32](t, dsn, schema, "SELECT version FROM schema_migrations ORDER BY version"))

	// A database migrated by a newer build is refused, not half-used.
	query[int32](t, dsn, schema, "INSERT INTO schema_migrations (version, name) VALUES (99, 'future') RETURNING version")
	_, err := pgstore.Open(context.Background(), pgstore.Config{DSN: dsn, Schema: schema})
	require.ErrorContains(t, err, "newer than this build supports")
}

func TestPostgresStoreName(t *testing.T) {
	c := cores(t, 1, quiet)[0]
	stats, err := c.Statistics(context.Background())
	require.NoError(t, err)
	assert.Equal(t, pgstore.Name, stats["name"])
}

// TestPostgresDequeueClaimsOnce: 100 dequeuers on two Cores drain 1,000
// rollouts; SKIP LOCKED must hand each rollout to exactly one of them.
func TestPostgresDequeueClaimsOnce(t *testing.T) {
	const rollouts, dequeuers = 1000, 100
	cs := cores(t, 2, quiet)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	enqueued := map[string]bool{}
	for range rollouts / 100 {
		reqs := make([]model.EnqueueRolloutRequest, 100)
		for i := range reqs {
			reqs[i].Input = json.RawMessage(fmt.Sprintf(`{"task":%d}`, len(enqueued)+i))
		}
		rs, err := cs[0].EnqueueRollouts(ctx, reqs)
		require.NoError(t, err)
		for _, r := range rs {
			enqueued[r.RolloutID] = true
		}
	}
	require.Len(t, enqueued, rollouts)

	var (
		mu      sync.Mutex
		claims  = map[string][]string{} // rollout id -> workers that got it
		claimed atomic.Int64
		wg      sync.WaitGroup
	)
	for i := range dequeuers {
		wg.Go(func() {
			c, worker := cs[i%2], fmt.Sprintf("worker-%03d", i)
			for claimed.Load() < rollouts && ctx.Err() == nil {
				rs, err := c.DequeueRollouts(ctx, 1+i%3, &worker)
				if err != nil {
					t.Errorf("%s: dequeue: %v", worker, err)
					return
				}
				mu.Lock()
				for _, r := range rs {
					claims[r.RolloutID] = append(claims[r.RolloutID], worker)
					require.NotNil(t, r.Attempt)
					assert.Equal(t, 1, r.Attempt.SequenceID)
				}
				mu.Unlock()
				claimed.Add(int64(len(rs)))
			}
		})
	}
	wg.Wait()
	require.NoError(t, ctx.Err(), "the queue was not drained in time")

	assert.Len(t, claims, rollouts)
	for id, workers := range claims {
		assert.True(t, enqueued[id], "claimed a rollout never enqueued: %s", id)
		assert.Len(t, workers, 1, "rollout %s claimed by %v", id, workers)
	}
	rest, err := cs[1].DequeueRollouts(ctx, 10, nil)
	require.NoError(t, err)
	assert.Empty(t, rest)
	stats, err := cs[1].Statistics(ctx)
	require.NoError(t, err)
	assert.Equal(t, rollouts, stats["total_attempts"], "each claim creates exactly one attempt")
	assert.Equal(t, dequeuers, stats["total_workers"])
}

// TestPostgresSequenceIDsAcrossCores: ids allocated from two processes for
// one rollout never repeat and leave no gap.
func TestPostgresSequenceIDsAcrossCores(t *testing.T) {
	cs := cores(t, 2, quiet)
	ctx := context.Background()
	const goroutines, calls = 20, 25
	var (
		mu  sync.Mutex
		ids []int
		wg  sync.WaitGroup
	)
	for g := range goroutines {
		wg.Go(func() {
			for n := range calls {
				keys := make([]store.SequenceKey, 1+(g+n)%4)
				for i := range keys {
					keys[i] = store.SequenceKey{RolloutID: "ro-shared", AttemptID: "at-1"}
				}
				got, err := cs[(g+n)%2].NextSequenceIDs(ctx, keys)
				if err != nil {
					t.Errorf("next sequence ids: %v", err)
					return
				}
				mu.Lock()
				ids = append(ids, got...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(ids)
	for i, id := range ids {
		require.Equal(t, i+1, id, "ids must be 1..%d without repeats", len(ids))
	}
}

// TestPostgresConcurrentIngestCreatesOnce: two collectors receive the first
// spans of the same unknown rollout at the same moment. One creates the
// rollout and attempt, the other waits for it and uses them; no span is
// rejected and sequence ids stay unique.
func TestPostgresConcurrentIngestCreatesOnce(t *testing.T) {
	cs := cores(t, 2, quiet)
	ctx := context.Background()
	const goroutines, batches, perBatch = 8, 10, 16
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for b := range batches {
				items := make([]store.IngestItem, perBatch)
				for i := range items {
					id := fmt.Sprintf("%04x%04x%08x", g, b, i)
					items[i] = store.IngestItem{Span: span("ro-new", "at-new", id, 0), CreateMetadata: json.RawMessage(`{"source":"otlp"}`)}
				}
				res, err := cs[g%2].IngestSpans(ctx, items)
				if err != nil {
					t.Errorf("ingest: %v", err)
					return
				}
				assert.Empty(t, res.Rejected)
				assert.Equal(t, perBatch, len(res.Stored))
			}
		})
	}
	wg.Wait()

	attempts, err := cs[0].QueryAttempts(ctx, store.AttemptQuery{RolloutID: "ro-new", Page: store.Page{Limit: -1}})
	require.NoError(t, err)
	require.Len(t, attempts.Items, 1)
	assert.Equal(t, 1, attempts.Items[0].SequenceID)
	spans, err := cs[1].QuerySpans(ctx, store.SpanQuery{RolloutID: "ro-new", Page: store.Page{Limit: -1}})
	require.NoError(t, err)
	require.Equal(t, goroutines*batches*perBatch, len(spans.Items))
	for i, s := range spans.Items {
		require.Equal(t, i+1, s.SequenceID)
	}
}

// TestPostgresWatchdogRunsInOnePlace: while one process holds the watchdog
// lock, another's scan changes nothing; once released, it does the work.
func TestPostgresWatchdogRunsInOnePlace(t *testing.T) {
	clock := storetest.NewClock(time.Unix(1_700_000_000, 0))
	dsn, schema := pgtest.Schema(t)
	holder := openSchema(t, dsn, schema)
	t.Cleanup(func() { _ = holder.Close() })
	c := store.New(openSchema(t, dsn, schema), store.Options{Clock: clock.Now, ScanDebounce: time.Hour})
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()

	r, err := c.StartRollout(ctx, store.StartRolloutRequest{Config: &model.RolloutConfig{TimeoutSeconds: model.Ptr(10.0), MaxAttempts: 1}})
	require.NoError(t, err)
	clock.Advance(11 * time.Second)

	held, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- holder.Update(ctx, func(tx store.Tx) error {
			ok, err := tx.(store.ScanLocker).TryLockScan()
			if err != nil || !ok {
				return fmt.Errorf("take the scan lock: ok=%v err=%v", ok, err)
			}
			close(held)
			<-release
			return nil
		})
	}()
	select {
	case <-held:
	case err := <-done:
		t.Fatal(err)
	}

	require.NoError(t, c.Scan(ctx))
	a, err := c.GetLatestAttempt(ctx, r.RolloutID)
	require.NoError(t, err)
	assert.Equal(t, model.AttemptPreparing, a.Status, "the scan must skip while another process holds the lock")
	err = holder.Update(ctx, func(tx store.Tx) error {
		ok, err := tx.(store.ScanLocker).TryLockScan()
		assert.False(t, ok, "the lock is exclusive")
		return err
	})
	require.NoError(t, err)

	close(release)
	require.NoError(t, <-done)
	require.NoError(t, c.Scan(ctx))
	a, err = c.GetLatestAttempt(ctx, r.RolloutID)
	require.NoError(t, err)
	assert.Equal(t, model.AttemptTimeout, a.Status)
}

// TestPostgresSpanBatches exercises the multi-row insert: chunks of
// different sizes, duplicates inside the batch and already stored spans.
func TestPostgresSpanBatches(t *testing.T) {
	b := openBackend(t)
	t.Cleanup(func() { _ = b.Close() })
	ctx := context.Background()

	before := []model.Span{span("ro-1", "at-1", "old-1", 1), span("ro-1", "at-1", "old-2", 1)}
	require.NoError(t, b.Update(ctx, func(tx store.Tx) error {
		_, err := tx.InsertSpans(before)
		return err
	}))

	// 700 = 512 + 128 + 32 + 16 + 8 + 4: six statements.
	batch := make([]model.Span, 700)
	want := make([]bool, len(batch))
	for i := range batch {
		batch[i] = span("ro-1", "at-1", fmt.Sprintf("s-%03d", i), 1)
		want[i] = true
	}
	batch[10] = span("ro-1", "at-1", "s-003", 1)  // repeats an earlier span of the same chunk
	batch[600] = span("ro-1", "at-1", "s-100", 1) // repeats a span of an earlier chunk
	batch[699] = before[1]                        // already stored
	want[10], want[600], want[699] = false, false, false

	var stored []bool
	require.NoError(t, b.Update(ctx, func(tx store.Tx) error {
		var err error
		stored, err = tx.InsertSpans(batch)
		return err
	}))
	assert.Equal(t, want, stored)

	var got []model.Span
	require.NoError(t, b.View(ctx, func(tx store.Tx) error {
		var err error
		got, _, err = tx.QuerySpans(store.Filter{Must: []store.Cond{{Field: "rollout_id", Op: store.OpExact, Value: "ro-1"}}}, store.Page{Limit: -1})
		return err
	}))
	var wantIDs []string
	for _, s := range before {
		wantIDs = append(wantIDs, s.SpanID)
	}
	for i, s := range batch {
		if want[i] {
			wantIDs = append(wantIDs, s.SpanID)
		}
	}
	gotIDs := make([]string, len(got))
	for i, s := range got {
		gotIDs[i] = s.SpanID
	}
	assert.Equal(t, wantIDs, gotIDs, "equal sequence ids keep the arrival order")
	i := slices.Index(gotIDs, "s-042")
	require.GreaterOrEqual(t, i, 0)
	assert.Equal(t, model.Attributes{"n": "s-042"}, got[i].Attributes, "the document is stored whole")
}

// TestPostgresDeadlockRetried: two transactions lock two rollouts in
// opposite orders. PostgreSQL aborts one; Update runs it again and both
// succeed.
func TestPostgresDeadlockRetried(t *testing.T) {
	b := openBackend(t)
	t.Cleanup(func() { _ = b.Close() })
	c := store.New(b, quiet)
	ctx := context.Background()
	var ids []string
	for range 2 {
		r, err := c.StartRollout(ctx, store.StartRolloutRequest{})
		require.NoError(t, err)
		ids = append(ids, r.RolloutID)
	}

	var runs atomic.Int32
	var firstLocks sync.WaitGroup
	firstLocks.Add(2)
	lockBoth := func(first, second string, firstRun *atomic.Bool) func(store.Tx) error {
		return func(tx store.Tx) error {
			runs.Add(1)
			if _, err := tx.GetRollout(first); err != nil {
				return err
			}
			if firstRun.CompareAndSwap(true, false) {
				firstLocks.Done()
				firstLocks.Wait()
			}
			_, err := tx.GetRollout(second)
			return err
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		first := &atomic.Bool{}
		first.Store(true)
		wg.Go(func() { errs[i] = b.Update(ctx, lockBoth(ids[i], ids[1-i], first)) })
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	assert.Equal(t, int32(3), runs.Load(), "exactly one transaction ran twice")
}

func TestPostgresOpenErrors(t *testing.T) {
	dsn, schema := pgtest.Schema(t)
	ctx := context.Background()
	_, err := pgstore.Open(ctx, pgstore.Config{DSN: dsn, Schema: schema, MaxConns: 2, MinConns: 3})
	require.ErrorContains(t, err, "min connections")

	// MinConns connections are opened up front.
	b, err := pgstore.Open(ctx, pgstore.Config{DSN: dsn, Schema: schema, MaxConns: 4, MinConns: 3})
	require.NoError(t, err)
	require.NoError(t, b.Close())
}

// TestPostgresV1AcrossCores: two gateways on one database never both move
// a v1.0 rollout out of queuing, and the completion cursor they share
// neither skips nor repeats.
func TestPostgresV1AcrossCores(t *testing.T) {
	cs := cores(t, 2, quiet)
	storetest.V1Concurrency(t, cs[0], cs[1])
}
