// Command storecompare measures the Lightning store's ingest and dequeue
// rates on SQLite and on PostgreSQL under the same load, and prints the
// ratios (PostgreSQL / SQLite) in one run:
//
//	go run ./bench/storecompare -dsn postgres://postgres@127.0.0.1:5432/lightning?sslmode=disable
//
// Ingest: concurrent writers call IngestSpans with batches of -batch spans
// (spread over several rollouts, sequence ids allocated by the store), as
// the lightningstore exporter does. Dequeue: -rollouts rollouts are
// enqueued, then concurrent workers dequeue them one at a time, as runners
// do. Both backends start empty; the PostgreSQL run uses a schema of its
// own, dropped at the end.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/pgstore"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/sqlitestore"
)

// load is the workload both backends run.
type load struct {
	Spans     int // spans ingested in total
	Batch     int // spans per IngestSpans call
	Writers   int // concurrent IngestSpans callers
	Rollouts  int // rollouts enqueued, then dequeued
	Dequeuers int // concurrent dequeuers
}

// result is what one backend achieved.
type result struct {
	Backend        string
	SpansPerSec    float64
	DequeuesPerSec float64
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "storecompare:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("storecompare", flag.ContinueOnError)
	l := load{}
	dsn := fs.String("dsn", firstEnv("LIGHTNING_POSTGRES_DSN", "LIGHTNING_TEST_POSTGRES_DSN"),
		"PostgreSQL DSN (default: $LIGHTNING_POSTGRES_DSN, else $LIGHTNING_TEST_POSTGRES_DSN)")
	fs.IntVar(&l.Spans, "spans", 100_000, "spans to ingest")
	fs.IntVar(&l.Batch, "batch", 512, "spans per IngestSpans call")
	fs.IntVar(&l.Writers, "writers", 4, "concurrent ingest writers")
	fs.IntVar(&l.Rollouts, "rollouts", 2_000, "rollouts to enqueue and dequeue")
	fs.IntVar(&l.Dequeuers, "dequeuers", 16, "concurrent dequeuers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dsn == "" {
		return errors.New("no PostgreSQL DSN: pass -dsn or set LIGHTNING_POSTGRES_DSN")
	}
	if l.Spans < 1 || l.Batch < 1 || l.Writers < 1 || l.Rollouts < 1 || l.Dequeuers < 1 {
		return errors.New("every count must be at least 1")
	}
	ctx := context.Background()

	fmt.Fprintf(out, "load: %d spans in batches of %d by %d writers; %d rollouts dequeued by %d workers\n",
		l.Spans, l.Batch, l.Writers, l.Rollouts, l.Dequeuers)
	sqlite, err := measure(ctx, "sqlite", l, openSQLite)
	if err != nil {
		return err
	}
	postgres, err := measure(ctx, "postgres", l, func(ctx context.Context) (store.Backend, func() error, error) {
		return openPostgres(ctx, *dsn)
	})
	if err != nil {
		return err
	}
	report(out, sqlite, postgres)
	return nil
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

type opener func(ctx context.Context) (store.Backend, func() error, error)

// measure runs the load on a fresh store of one backend.
func measure(ctx context.Context, name string, l load, open opener) (result, error) {
	res := result{Backend: name}
	for _, phase := range []struct {
		run func(context.Context, *store.Core, load) (float64, error)
		out *float64
	}{
		{ingest, &res.SpansPerSec},
		{dequeue, &res.DequeuesPerSec},
	} {
		backend, cleanup, err := open(ctx)
		if err != nil {
			return res, fmt.Errorf("%s: %w", name, err)
		}
		core := store.New(backend, store.Options{ScanDebounce: time.Second})
		rate, err := phase.run(ctx, core, l)
		err = errors.Join(err, core.Close(), cleanup())
		if err != nil {
			return res, fmt.Errorf("%s: %w", name, err)
		}
		*phase.out = rate
	}
	return res, nil
}

func openSQLite(ctx context.Context) (store.Backend, func() error, error) {
	dir, err := os.MkdirTemp("", "storecompare-")
	if err != nil {
		return nil, nil, err
	}
	b, err := sqlitestore.OpenContext(ctx, filepath.Join(dir, "lightning.db"))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, err
	}
	return b, func() error { return os.RemoveAll(dir) }, nil
}

func openPostgres(ctx context.Context, dsn string) (store.Backend, func() error, error) {
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	schema := "storecompare_" + hex.EncodeToString(suffix)
	b, err := pgstore.Open(ctx, pgstore.Config{DSN: dsn, Schema: schema, MaxConns: 16})
	drop := func() error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return fmt.Errorf("drop schema %s: %w", schema, err)
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		return err
	}
	if err != nil {
		return nil, nil, errors.Join(err, drop())
	}
	return b, drop, nil
}

// rolloutsPerBatch is how many rollouts one ingest batch spans: a
// collector's batch mixes the spans of the agents it serves.
const rolloutsPerBatch = 8

// ingest creates the rollouts, then times the writers' IngestSpans calls.
func ingest(ctx context.Context, c *store.Core, l load) (float64, error) {
	rollouts := make([]model.Rollout, l.Writers*rolloutsPerBatch)
	for i := range rollouts {
		r, err := c.StartRollout(ctx, store.StartRolloutRequest{Input: json.RawMessage(`{"bench":true}`)})
		if err != nil {
			return 0, err
		}
		rollouts[i] = *r
	}
	batches := (l.Spans + l.Batch - 1) / l.Batch
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, l.Writers)
	start := time.Now()
	for w := range l.Writers {
		wg.Go(func() {
			// Each writer has rollouts of its own, as each collector's
			// agents do.
			mine := rollouts[w*rolloutsPerBatch : (w+1)*rolloutsPerBatch]
			for {
				n := int(next.Add(1)) - 1
				if n >= batches {
					return
				}
				size := min(l.Batch, l.Spans-n*l.Batch)
				if _, err := c.IngestSpans(ctx, spanBatch(mine, n, size)); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	return float64(l.Spans) / elapsed.Seconds(), nil
}

func spanBatch(rollouts []model.Rollout, batch, size int) []store.IngestItem {
	items := make([]store.IngestItem, size)
	now := float64(time.Now().UnixNano()) / 1e9
	for i := range items {
		r := rollouts[i%len(rollouts)]
		items[i].Span = model.Span{
			RolloutID: r.RolloutID, AttemptID: r.Attempt.AttemptID,
			TraceID: fmt.Sprintf("%032x", batch*len(rollouts)+i%len(rollouts)),
			SpanID:  fmt.Sprintf("%08x%08x", batch, i), Name: "chat gpt-4o-mini",
			StartTime: &now, EndTime: &now,
			Attributes: model.Attributes{
				"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
				"gen_ai.usage.input_tokens": 512, "gen_ai.usage.output_tokens": 128,
			},
		}
	}
	return items
}

// dequeue enqueues the rollouts, then times the dequeuers draining them.
func dequeue(ctx context.Context, c *store.Core, l load) (float64, error) {
	for done := 0; done < l.Rollouts; {
		reqs := make([]model.EnqueueRolloutRequest, min(500, l.Rollouts-done))
		for i := range reqs {
			reqs[i].Input = json.RawMessage(fmt.Sprintf(`{"task":%d}`, done+i))
		}
		if _, err := c.EnqueueRollouts(ctx, reqs); err != nil {
			return 0, err
		}
		done += len(reqs)
	}
	var claimed atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, l.Dequeuers)
	start := time.Now()
	for w := range l.Dequeuers {
		wg.Go(func() {
			worker := fmt.Sprintf("worker-%d", w)
			for claimed.Load() < int64(l.Rollouts) {
				rs, err := c.DequeueRollouts(ctx, 1, &worker)
				if err != nil {
					errs[w] = err
					return
				}
				if len(rs) == 0 {
					return // drained (another worker holds the last ones)
				}
				claimed.Add(int64(len(rs)))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	if got := claimed.Load(); got != int64(l.Rollouts) {
		return 0, fmt.Errorf("dequeued %d rollouts, want %d", got, l.Rollouts)
	}
	return float64(l.Rollouts) / elapsed.Seconds(), nil
}

func report(out io.Writer, sqlite, postgres result) {
	fmt.Fprintf(out, "%-10s %16s %18s\n", "backend", "ingest spans/s", "dequeues/s")
	for _, r := range []result{sqlite, postgres} {
		fmt.Fprintf(out, "%-10s %16.0f %18.0f\n", r.Backend, r.SpansPerSec, r.DequeuesPerSec)
	}
	fmt.Fprintf(out, "ratio postgres/sqlite: ingest %.2f, dequeue %.2f\n",
		postgres.SpansPerSec/sqlite.SpansPerSec, postgres.DequeuesPerSec/sqlite.DequeuesPerSec)
}
