package e2e

import (
	"bytes"
	"context"
	bin "encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/otelcol-lightning/otelcol-lightning/internal/pgtest"
)

// TestValidateGatewayPostgresConfig runs `validate` on
// config/gateway-postgres.yaml: it is valid with a DSN, and without one the
// collector names the missing setting instead of starting.
func TestValidateGatewayPostgresConfig(t *testing.T) {
	requireBinary(t)
	validate := func(env ...string) (string, error) {
		cmd := exec.Command(binary, "validate", "--config", filepath.Join(configDir, "gateway-postgres.yaml"))
		cmd.Env = append(cmd.Environ(), env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	if out, err := validate("LIGHTNING_POSTGRES_DSN=postgres://lightning:pw@db.internal:5432/lightning?sslmode=require"); err != nil {
		t.Fatalf("validate config/gateway-postgres.yaml: %v\n%s", err, out)
	}
	out, err := validate("LIGHTNING_POSTGRES_DSN=")
	if err == nil {
		t.Fatal("validate accepted the gateway config without a DSN")
	}
	if want := "store.dsn: must not be empty"; !bytes.Contains([]byte(out), []byte(want)) {
		t.Errorf("validate without a DSN: want %q in\n%s", want, out)
	}
}

// TestPostgresTwoCollectors runs two gateways (config/gateway-postgres.yaml)
// on one PostgreSQL schema, as the scale-out check describes:
//
//   - 100 concurrent dequeuers, half on each collector's store API, drain
//     1,000 rollouts and each rollout is claimed exactly once;
//   - OTLP spans sent to both collectors for the same rollouts end up in one
//     consistent store (every span once, sequence ids unique per rollout);
//   - one collector is killed with SIGKILL mid-run and no span it
//     acknowledged is lost.
//
// "Acknowledged" is an OTLP/HTTP 200 without rejected spans. The gateway
// config has no exporter queue, so the receiver answers only after the
// spans are committed to PostgreSQL: a span can be acknowledged and lost
// only if the store itself loses it, which is what this checks. The two
// collectors write the same rollouts at once; their group transactions lock
// rollouts in one order, or they would deadlock.
func TestPostgresTwoCollectors(t *testing.T) {
	requireBinary(t)
	dsn, schema := pgtest.Schema(t)
	env := []string{"LIGHTNING_POSTGRES_DSN=" + dsn, "LIGHTNING_POSTGRES_SCHEMA=" + schema}
	a := startCollectorConfig(t, "gateway-postgres.yaml", env...)
	b := startCollectorConfig(t, "gateway-postgres.yaml", env...)
	collectors := []*collector{a, b}

	claimed := drainQueue(t, collectors, 1000, 100)

	// Spans for 20 of the claimed rollouts, sent to both collectors.
	targets := claimed[:20]
	var (
		mu    sync.Mutex
		acked = map[string]spanTarget{} // span id -> its rollout
		seq   atomic.Uint64
	)
	send := func(c *collector) error {
		td, ids := spanBatch(targets, &seq, 25)
		if err := exportOTLP(c, td); err != nil {
			return err
		}
		mu.Lock()
		for id, tgt := range ids {
			acked[id] = tgt
		}
		mu.Unlock()
		return nil
	}

	// Both collectors ingest concurrently; b is killed once it has
	// acknowledged 20 requests, while its sender keeps going.
	var wg sync.WaitGroup
	var bAcked, aFailed atomic.Int32
	killed := make(chan struct{})
	stop := make(chan struct{})
	for _, c := range collectors {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := send(c)
				if c == a && err != nil && aFailed.Add(1) == 1 {
					t.Errorf("collector a refused spans: %v", err)
				}
				if c == b && err == nil && bAcked.Add(1) == 20 {
					close(killed)
				}
				if c == b && err != nil && !b.running() {
					return // refused: the process is gone
				}
			}
		})
	}
	select {
	case <-killed:
	case <-time.After(dataTimeout):
		close(stop)
		wg.Wait()
		t.Fatalf("collector b acknowledged only %d requests", bAcked.Load())
	}
	b.kill(t)
	// a keeps ingesting after b died.
	for range 20 {
		if err := send(a); err != nil {
			t.Fatalf("collector a after b was killed: %v", err)
		}
	}
	close(stop)
	wg.Wait()

	// Every acknowledged span is in the store, once, as read through the
	// surviving collector; sequence ids never repeat within a rollout.
	byRollout := map[string]map[string]bool{}
	for id, tgt := range acked {
		if byRollout[tgt.rolloutID] == nil {
			byRollout[tgt.rolloutID] = map[string]bool{}
		}
		byRollout[tgt.rolloutID][id] = true
	}
	total := 0
	for _, tgt := range targets {
		spans := allSpans(t, a, tgt.rolloutID)
		seen, seqs := map[string]bool{}, map[int]string{}
		for _, s := range spans {
			if seen[s.SpanID] {
				t.Errorf("rollout %s: span %s stored twice", tgt.rolloutID, s.SpanID)
			}
			seen[s.SpanID] = true
			if other, dup := seqs[s.SequenceID]; dup {
				t.Errorf("rollout %s: sequence id %d given to %s and %s", tgt.rolloutID, s.SequenceID, other, s.SpanID)
			}
			seqs[s.SequenceID] = s.SpanID
			if s.AttemptID != tgt.attemptID {
				t.Errorf("rollout %s: span %s filed under attempt %s, want %s", tgt.rolloutID, s.SpanID, s.AttemptID, tgt.attemptID)
			}
		}
		for id := range byRollout[tgt.rolloutID] {
			if !seen[id] {
				t.Errorf("rollout %s: acknowledged span %s is missing", tgt.rolloutID, id)
			}
		}
		total += len(spans)
	}
	if len(acked) == 0 || total < len(acked) {
		t.Fatalf("%d spans acknowledged, %d stored", len(acked), total)
	}
	t.Logf("%d spans acknowledged by two collectors (one killed), %d stored", len(acked), total)
}

type spanTarget struct{ rolloutID, attemptID string }

// drainQueue enqueues n rollouts through the first collector, then runs
// dequeuers concurrently, alternating between the collectors' APIs, until
// all n are claimed. It fails the test unless each is claimed exactly once,
// and returns the claims in order.
func drainQueue(t *testing.T, collectors []*collector, n, dequeuers int) []spanTarget {
	t.Helper()
	enqueued := map[string]bool{}
	for len(enqueued) < n {
		reqs := make([]map[string]any, min(100, n-len(enqueued)))
		for i := range reqs {
			reqs[i] = map[string]any{"input": map[string]any{"task": len(enqueued) + i}}
		}
		var rs []wireRollout
		postJSONStatus(t, collectors[0].api("/v1/agl/queues/rollouts/enqueue"), http.StatusCreated, map[string]any{"rollouts": reqs}, &rs)
		for _, r := range rs {
			enqueued[r.RolloutID] = true
		}
	}

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: dequeuers}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var (
		mu     sync.Mutex
		claims = map[string][]string{}
		order  []spanTarget
		total  atomic.Int64
		wg     sync.WaitGroup
		errs   = make(chan error, dequeuers)
	)
	for i := range dequeuers {
		wg.Go(func() {
			c, worker := collectors[i%len(collectors)], fmt.Sprintf("worker-%03d", i)
			for total.Load() < int64(n) && ctx.Err() == nil {
				var rs []wireRollout
				body := map[string]any{"limit": 1 + i%3, "worker_id": worker}
				if err := postJSONContext(ctx, client, c.api("/v1/agl/queues/rollouts/dequeue"), body, &rs); err != nil {
					errs <- fmt.Errorf("%s: %w", worker, err)
					return
				}
				mu.Lock()
				for _, r := range rs {
					claims[r.RolloutID] = append(claims[r.RolloutID], worker)
					if r.Attempt != nil {
						order = append(order, spanTarget{r.RolloutID, r.Attempt.AttemptID})
					}
				}
				mu.Unlock()
				total.Add(int64(len(rs)))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if ctx.Err() != nil {
		t.Fatalf("queue not drained in time: %d of %d claimed", total.Load(), n)
	}
	if len(claims) != n {
		t.Fatalf("%d distinct rollouts claimed, want %d", len(claims), n)
	}
	for id, workers := range claims {
		if !enqueued[id] {
			t.Errorf("claimed %s, which was never enqueued", id)
		}
		if len(workers) != 1 {
			t.Errorf("rollout %s claimed %d times, by %v", id, len(workers), workers)
		}
	}
	if len(order) != n {
		t.Fatalf("%d claims carried an attempt, want %d", len(order), n)
	}
	return order
}

// postJSONContext is postJSON for goroutines: it returns errors instead of
// failing the test.
func postJSONContext(ctx context.Context, client *http.Client, url string, req, out any) error {
	return postJSONStatusContext(ctx, client, url, http.StatusOK, req, out)
}

// postJSONStatusContext is postJSONContext for an answer with status want.
func postJSONStatusContext(ctx context.Context, client *http.Client, url string, want int, req, out any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	r.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("POST %s: status %d: %s", url, resp.StatusCode, data)
	}
	return json.Unmarshal(data, out)
}

// spanBatch builds one OTLP request of n spans spread over the targets,
// each labeled with its rollout and attempt on the resource, with span ids
// from a shared counter so every span is distinct.
func spanBatch(targets []spanTarget, counter *atomic.Uint64, n int) (ptrace.Traces, map[string]spanTarget) {
	td := ptrace.NewTraces()
	ids := make(map[string]spanTarget, n)
	now := time.Now()
	for range n {
		id := counter.Add(1)
		tgt := targets[id%uint64(len(targets))]
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("agentlightning.rollout_id", tgt.rolloutID)
		rs.Resource().Attributes().PutStr("agentlightning.attempt_id", tgt.attemptID)
		sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		var traceID [16]byte
		var spanID [8]byte
		bin.BigEndian.PutUint64(traceID[8:], id%uint64(len(targets))+1)
		bin.BigEndian.PutUint64(spanID[:], id)
		sp.SetTraceID(traceID)
		sp.SetSpanID(spanID)
		sp.SetName(fmt.Sprintf("step %d", id))
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Millisecond)))
		ids[sp.SpanID().String()] = tgt
	}
	return td, ids
}

var otlpClient = &http.Client{Timeout: 30 * time.Second}

// exportOTLP posts td to the collector's OTLP/HTTP receiver and returns nil
// only for an acknowledgement: status 200 and no rejected span.
func exportOTLP(c *collector, td ptrace.Traces) error {
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		return err
	}
	resp, err := otlpClient.Post(c.otlpHTTP("/v1/traces"), "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, raw)
	}
	out := ptraceotlp.NewExportResponse()
	if err := out.UnmarshalProto(raw); err != nil {
		return err
	}
	if n := out.PartialSuccess().RejectedSpans(); n != 0 {
		return fmt.Errorf("%d spans rejected: %s", n, out.PartialSuccess().ErrorMessage())
	}
	return nil
}

// allSpans returns every span of a rollout through the store API.
func allSpans(t *testing.T, c *collector, rolloutID string) []wireSpan {
	t.Helper()
	var got page[wireSpan]
	postJSON(t, c.api("/v1/agl/spans/search"), map[string]any{"rollout_id": rolloutID, "limit": -1}, &got)
	if got.Total != len(got.Items) {
		t.Fatalf("rollout %s: total %d but %d items", rolloutID, got.Total, len(got.Items))
	}
	return got.Items
}
