package e2e

import (
	"context"
	"database/sql"
	byteorder "encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	_ "modernc.org/sqlite" // the lock holder opens the store's database

	"github.com/otelcol-lightning/otelcol-lightning/bench/loadgen"
)

// relBatch is batch number b of a test ingest: n small spans with ids that
// encode (b, j), labelled with one of `rollouts` rollouts (attempt at-1).
func relBatch(b, n, rollouts int, prefix string) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("agentlightning.rollout_id", relRollout(b, rollouts, prefix))
	rs.Resource().Attributes().PutStr("agentlightning.attempt_id", "at-1")
	spans := rs.ScopeSpans().AppendEmpty().Spans()
	var trace pcommon.TraceID
	byteorder.BigEndian.PutUint64(trace[8:], uint64(b)+1)
	now := time.Now()
	for j := range n {
		s := spans.AppendEmpty()
		s.SetTraceID(trace)
		s.SetSpanID(relSpanID(b, j))
		s.SetName("step")
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Millisecond)))
		s.Attributes().PutInt("batch", int64(b))
		s.Attributes().PutStr("payload", "some text the agent produced in this step")
	}
	return td
}

func relRollout(b, rollouts int, prefix string) string {
	return prefix + "-" + strconv.Itoa(b%rollouts)
}

func relSpanID(b, j int) pcommon.SpanID {
	var id pcommon.SpanID
	byteorder.BigEndian.PutUint32(id[:4], uint32(b)+1)
	byteorder.BigEndian.PutUint32(id[4:], uint32(j)+1)
	return id
}

// ingest sends batches [0, batches) from several senders (half OTLP/HTTP,
// half OTLP/gRPC), retrying each until the collector acknowledges it, and
// records which were acknowledged. onAck runs after each acknowledgement.
type relIngest struct {
	batches, perBatch, rollouts int
	prefix                      string
	acked                       []atomic.Bool
	ackedSpans                  atomic.Int64
}

func newRelIngest(batches, perBatch, rollouts int, prefix string) *relIngest {
	return &relIngest{batches: batches, perBatch: perBatch, rollouts: rollouts, prefix: prefix, acked: make([]atomic.Bool, batches)}
}

func (in *relIngest) run(ctx context.Context, c *collector, senders int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for i := range senders {
		var s loadgen.Sender
		if i%2 == 0 {
			s = loadgen.NewHTTPSender(c.otlpHTTP("/v1/traces"), loadgen.HTTPOptions{Options: loadgen.Options{Timeout: 10 * time.Second}})
		} else {
			var err error
			s, err = loadgen.NewGRPCSender(c.GRPCAddr, loadgen.Options{Timeout: 10 * time.Second})
			if err != nil {
				return err
			}
		}
		wg.Go(func() {
			defer s.Close()
			for {
				b := int(next.Add(1) - 1)
				if b >= in.batches {
					return
				}
				td := relBatch(b, in.perBatch, in.rollouts, in.prefix)
				for {
					err := s.Send(ctx, td)
					if err == nil {
						break
					}
					if ctx.Err() != nil {
						errs <- fmt.Errorf("batch %d never acknowledged: %w", b, err)
						return
					}
					// Refused or unreachable: the collector is restarting, or
					// its queue is full. An OTLP exporter retries; so do we.
					time.Sleep(50 * time.Millisecond)
				}
				in.acked[b].Store(true)
				in.ackedSpans.Add(int64(in.perBatch))
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// expectedPerRollout is the number of acknowledged spans per rollout.
func (in *relIngest) expectedPerRollout() map[string]int {
	want := map[string]int{}
	for b := range in.batches {
		if in.acked[b].Load() {
			want[relRollout(b, in.rollouts, in.prefix)] += in.perBatch
		}
	}
	return want
}

// verify waits until the store holds every acknowledged span, then checks
// them one by one and reports duplicates.
func (in *relIngest) verify(t *testing.T, c *collector, timeout time.Duration) {
	t.Helper()
	want := in.expectedPerRollout()
	// Past the deadline, count what is missing rather than stop at the
	// first short rollout.
	settled := poll(timeout, func() error {
		for rollout, n := range want {
			got, err := spanTotal(context.Background(), "http://"+c.APIAddr, rollout, "at-1")
			if err != nil {
				return err
			}
			if got < n {
				return notYet("rollout %s holds %d spans, %d acknowledged", rollout, got, n)
			}
		}
		return nil
	})
	if settled != nil {
		t.Logf("after %s: %v", timeout, settled)
	}
	missing, dups := 0, 0
	var firstMissing []string
	stored := map[string]map[string]int{}
	for rollout := range want {
		stored[rollout] = spanIDsOf(t, "http://"+c.APIAddr, rollout, "at-1")
	}
	for b := range in.batches {
		if !in.acked[b].Load() {
			continue
		}
		ids := stored[relRollout(b, in.rollouts, in.prefix)]
		for j := range in.perBatch {
			id := relSpanID(b, j)
			n := ids[fmt.Sprintf("%x", id[:])]
			switch {
			case n == 0:
				missing++
				if len(firstMissing) < 5 {
					firstMissing = append(firstMissing, fmt.Sprintf("batch %d span %d", b, j))
				}
			case n > 1:
				dups++
			}
		}
	}
	if missing > 0 || dups > 0 {
		t.Fatalf("%d acknowledged spans missing (first: %v), %d stored more than once", missing, firstMissing, dups)
	}
}

// TestReliabilityKill9PersistentQueue kills the collector with SIGKILL at
// random points of an ingest, with the exporter's queue on file_storage,
// restarts it on the same data, and checks that every span whose export was
// acknowledged ends up in the store exactly once. Short: 6 000 spans, 2
// kills; -long: 100 000 spans, 5 kills.
func TestReliabilityKill9PersistentQueue(t *testing.T) {
	requireBinary(t)
	load := kill9Load{total: 6_000, kills: 2, settle: 2 * time.Minute}
	if isLong() {
		load.total, load.kills = 100_000, 5
	}
	runKill9(t, launchSpec{configs: []string{testdataPath("persistent-queue.yaml")}}, load)
}

// kill9Load sizes a kill -9 test: the spans sent, the kills during the
// ingest, and how long the store may take after the ingest to hold every
// acknowledged span (a persistent queue replays its backlog after a restart).
type kill9Load struct {
	total, kills int
	settle       time.Duration
}

// runKill9 starts the collector as spec says, sends load.total spans from
// four senders (half OTLP/HTTP, half OTLP/gRPC, each retrying until
// acknowledged), kills the collector with SIGKILL load.kills times at random
// points of the ingest and restarts it on the same data and ports, then
// fails unless every acknowledged span is stored exactly once. The kill
// points come from LIGHTNING_KILL_SEED when set.
func runKill9(t *testing.T, spec launchSpec, load kill9Load) {
	t.Helper()
	const perBatch, rollouts = 50, 4
	seed := uint64(time.Now().UnixNano())
	if s, err := strconv.ParseUint(os.Getenv("LIGHTNING_KILL_SEED"), 10, 64); err == nil {
		seed = s
	}
	t.Logf("kill points from seed %d (LIGHTNING_KILL_SEED)", seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	c := launch(t, t.TempDir(), spec)
	in := newRelIngest(load.total/perBatch, perBatch, rollouts, "ro-kill")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- in.run(ctx, c.collector, 4) }()

	// Kill k of n at a random point of the k-th slice of the ingest.
	slice := int64(load.total / (load.kills + 1))
	for k := range load.kills {
		at := int64(k)*slice + slice/2 + rng.Int64N(slice)
		deadline := time.Now().Add(2 * time.Minute)
		for in.ackedSpans.Load() < at {
			if time.Now().After(deadline) {
				t.Fatalf("ingest stalled at %d acknowledged spans", in.ackedSpans.Load())
			}
			time.Sleep(time.Millisecond)
		}
		c.kill(t)
		t.Logf("kill -9 %d after %d acknowledged spans", k+1, in.ackedSpans.Load())
		c.restart(t)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	in.verify(t, c.collector, load.settle)
}

// TestReliabilityStoreLocked makes the store unavailable (another process
// holds a write transaction on the SQLite file) while spans keep arriving:
// nothing is acknowledged meanwhile (the receivers answer "retry later",
// and the senders retry as OTLP exporters do), the health check and the
// read API keep answering, and after the lock is released every span is
// acknowledged and stored. Short: a 5 s outage; -long: 60 s.
func TestReliabilityStoreLocked(t *testing.T) {
	requireBinary(t)
	outage, total := outageLoad()
	dataDir := t.TempDir()
	c := launch(t, dataDir, launchSpec{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ingestBeforeOutage(ctx, t, c.collector)

	release := holdSQLiteLock(t, filepath.Join(dataDir, "lightning.db"))
	locked := time.Now()
	in, done := ingestDuringOutage(ctx, c.collector, total)
	// Everything stays up while the store is locked.
	for time.Since(locked) < outage {
		if !httpOK("http://" + c.HealthAddr + "/") {
			t.Fatal("health check failed during the outage")
		}
		if _, err := spanTotal(ctx, "http://"+c.APIAddr, "ro-before", "at-1"); err != nil {
			t.Fatalf("read API during the outage: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for r := range outageRollouts {
		n, err := spanTotal(ctx, "http://"+c.APIAddr, relRollout(r, outageRollouts, "ro-outage"), "at-1")
		if err != nil || n != 0 {
			t.Fatalf("spans written while the store was locked: %d (%v); the outage was not real", n, err)
		}
	}
	finishOutage(ctx, t, c.collector, in, done, release)
	t.Logf("store locked for %s; %d spans stored after it", time.Since(locked).Round(time.Millisecond), total)
	if !c.running() {
		t.Fatal("collector exited")
	}
}

// outageRollouts is how many rollouts share an outage test's spans.
const outageRollouts = 2

// outageLoad is how long an outage test keeps the store unavailable and how
// many spans it sends meanwhile: short in CI, a minute with -long.
func outageLoad() (time.Duration, int) {
	if isLong() {
		return 60 * time.Second, 20_000
	}
	return 5 * time.Second, 2_000
}

// ingestBeforeOutage stores one batch and waits until it is readable, so
// the store is known to work before it is taken away.
func ingestBeforeOutage(ctx context.Context, t *testing.T, c *collector) {
	t.Helper()
	before := newRelIngest(1, 50, 1, "ro-before")
	if err := before.run(ctx, c, 1); err != nil {
		t.Fatal(err)
	}
	before.verify(t, c, dataTimeout)
}

// ingestDuringOutage starts sending total spans in batches of 50, each
// retried until acknowledged, as OTLP exporters do; done reports when every
// batch was.
func ingestDuringOutage(ctx context.Context, c *collector, total int) (in *relIngest, done <-chan error) {
	const perBatch = 50
	in = newRelIngest(total/perBatch, perBatch, outageRollouts, "ro-outage")
	ch := make(chan error, 1)
	go func() { ch <- in.run(ctx, c, 4) }()
	return in, ch
}

// finishOutage checks that nothing was acknowledged while the store was
// unavailable (an acknowledgement means stored), then, once it is back,
// that every batch gets acknowledged and stored.
func finishOutage(ctx context.Context, t *testing.T, c *collector, in *relIngest, done <-chan error, restore func()) {
	t.Helper()
	if n := in.ackedSpans.Load(); n != 0 {
		t.Fatalf("%d spans acknowledged while the store was unavailable", n)
	}
	restore()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exports after the outage: %v", err)
		}
	case <-ctx.Done():
		t.Fatalf("exports never acknowledged after the outage: %d of %d batches", in.ackedSpans.Load()/int64(in.perBatch), in.batches)
	}
	in.verify(t, c, dataTimeout)
}

// lockHolderEnv makes the test binary act as the lock holder (see init).
const lockHolderEnv = "LIGHTNING_E2E_HOLD_SQLITE_LOCK"

func init() {
	if path := os.Getenv(lockHolderEnv); path != "" {
		os.Exit(holdLockMain(path))
	}
}

// holdLockMain opens the database, begins an IMMEDIATE transaction (SQLite's
// write lock), says "locked" and holds it until stdin closes.
func holdLockMain(path string) int {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(30000)")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	_, _ = conn.ExecContext(ctx, "ROLLBACK")
	return 0
}

// holdSQLiteLock runs the lock holder as another process (the test binary
// itself) and returns once it holds the lock; calling the returned function
// releases it.
func holdSQLiteLock(t *testing.T, path string) func() {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), lockHolderEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, len("locked\n"))
	if _, err := io.ReadFull(stdout, line); err != nil || string(line) != "locked\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("lock holder: %q %v %s", line, err, stderr.String())
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			_ = stdin.Close()
			if err := cmd.Wait(); err != nil {
				t.Errorf("lock holder: %v %s", err, stderr.String())
			}
		})
	}
	t.Cleanup(release)
	return release
}
