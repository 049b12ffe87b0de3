package e2e

// "Acknowledged means stored": an OTLP export the collector answered with
// success is in the store. Two consequences are checked here, on the real
// binary and the shipped configurations:
//
//   - read-your-writes: an algorithm that reads a rollout's spans the moment
//     the rollout turns succeeded (Agent Lightning's wait_for_rollouts, then
//     query_spans) finds every span its runner exported before marking the
//     attempt succeeded, the final reward included;
//   - durability: kill -9 loses no span whose export was acknowledged, with
//     the default config/collector.yaml.

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-lightning/otelcol-lightning/bench/loadgen"
	"github.com/otelcol-lightning/otelcol-lightning/internal/pgtest"
)

// TestReadYourWritesAtSucceeded runs concurrent Agent Lightning-style
// runners against one collector. Each starts a rollout (POST
// /v1/agl/rollouts), exports its ten spans in three OTLP requests (the
// final reward in the last one), and marks the attempt succeeded once every
// export was acknowledged. Meanwhile an algorithm waits for each rollout
// (POST /v1/agl/waits/rollouts) and, as soon as it is succeeded, reads its
// spans once: every acknowledged span must be there. Runners take turns
// over the three ways in: /v1/traces on the store port (Agent Lightning's
// client: OTLP/HTTP protobuf, gzip), the OTLP/HTTP receiver and the
// OTLP/gRPC receiver. Short: 16 runners, 320 rollouts; -long: 48 runners,
// 4 800 rollouts. The postgres subtest runs config/gateway-postgres.yaml
// when LIGHTNING_TEST_POSTGRES_DSN is set.
func TestReadYourWritesAtSucceeded(t *testing.T) {
	requireBinary(t)
	load := rywLoad{runners: 16, rollouts: 320}
	if isLong() {
		load = rywLoad{runners: 48, rollouts: 4_800}
	}
	t.Run("sqlite", func(t *testing.T) {
		c := startCollector(t, t.TempDir())
		checkReadYourWrites(t, c, load)
	})
	t.Run("postgres", func(t *testing.T) {
		dsn, schema := pgtest.Schema(t)
		c := startCollectorConfig(t, "gateway-postgres.yaml",
			"LIGHTNING_POSTGRES_DSN="+dsn, "LIGHTNING_POSTGRES_SCHEMA="+schema)
		checkReadYourWrites(t, c, load)
	})
}

// TestKill9DefaultConfigLosesNothingAcknowledged is
// TestReliabilityKill9PersistentQueue with the default
// config/collector.yaml: SIGKILL at random points of an ingest, restart on
// the same data, and every span whose export was acknowledged must be
// stored exactly once. Short: 15 000 spans, 3 kills; -long: 100 000 spans,
// 5 kills.
func TestKill9DefaultConfigLosesNothingAcknowledged(t *testing.T) {
	requireBinary(t)
	// Nothing survives a crash but the store, so once the ingest is over
	// the store must hold everything at once; 15 s only lets the last
	// exports settle.
	load := kill9Load{total: 15_000, kills: 3, settle: 15 * time.Second}
	if isLong() {
		load.total, load.kills = 100_000, 5
	}
	runKill9(t, launchSpec{}, load)
}

// rywLoad sizes a read-your-writes run.
type rywLoad struct{ runners, rollouts int }

// rywTransport is one way a runner exports its spans.
type rywTransport struct {
	name      string
	newSender func(c *collector) (loadgen.Sender, error)
}

var rywTransports = []rywTransport{
	{"store /v1/traces", func(c *collector) (loadgen.Sender, error) {
		return loadgen.NewHTTPSender(c.api("/v1/traces"), loadgen.HTTPOptions{Gzip: true, Options: loadgen.Options{Timeout: 20 * time.Second}}), nil
	}},
	{"OTLP/HTTP", func(c *collector) (loadgen.Sender, error) {
		return loadgen.NewHTTPSender(c.otlpHTTP("/v1/traces"), loadgen.HTTPOptions{Options: loadgen.Options{Timeout: 20 * time.Second}}), nil
	}},
	{"OTLP/gRPC", func(c *collector) (loadgen.Sender, error) {
		return loadgen.NewGRPCSender(c.GRPCAddr, loadgen.Options{Timeout: 20 * time.Second})
	}},
}

// rywWorkload is the agent of a read-your-writes run: four LLM calls, four
// tool calls, the reward and the agent span (ten spans), small messages so
// that the run measures the store, not the encoder.
var rywWorkload = loadgen.Workload{
	CallsPerRollout: 4, ToolCalls: true, Reward: true,
	MessageBytes: 64, PromptTokens: 16, ResponseTokens: 8,
}

// rywRequestSpans splits a rollout's ten spans 4 + 4 + 2: the reward span
// and the agent span are the last request.
const rywRequestSpans = 4

// rywResult is what the algorithm saw of one rollout at its first read.
type rywResult struct {
	transport string
	rolloutID string
	status    string // the status wait_for_rollouts returned
	sent, got int    // acknowledged spans, and how many of them were read
	reward    bool   // the reward span was among them
}

func (r rywResult) complete() bool { return r.status == "succeeded" && r.got == r.sent && r.reward }

// checkReadYourWrites runs load against c and fails listing the rollouts
// whose spans were incomplete when they were first seen succeeded.
func checkReadYourWrites(t *testing.T, c *collector, load rywLoad) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 4 * load.runners}}
	defer client.CloseIdleConnections()

	var (
		next    atomic.Int64
		mu      sync.Mutex
		results []rywResult
		readers sync.WaitGroup
		runners sync.WaitGroup
		errs    = make(chan error, 2*load.rollouts+load.runners)
	)
	record := func(r rywResult) {
		mu.Lock()
		results = append(results, r)
		mu.Unlock()
	}
	for i := range load.runners {
		tr := rywTransports[i%len(rywTransports)]
		sender, err := tr.newSender(c)
		if err != nil {
			t.Fatal(err)
		}
		runners.Go(func() {
			defer sender.Close()
			for ctx.Err() == nil {
				index := int(next.Add(1) - 1)
				if index >= load.rollouts {
					return
				}
				if err := runRollout(ctx, client, c, sender, index, tr.name, &readers, record, errs); err != nil {
					errs <- fmt.Errorf("runner %d (%s), rollout %d: %w", i, tr.name, index, err)
					cancel() // the algorithm stops waiting
					return
				}
			}
		})
	}
	runners.Wait()
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	if len(results) != load.rollouts {
		t.Fatalf("%d rollouts read, want %d", len(results), load.rollouts)
	}
	reportReadYourWrites(t, results)
}

// runRollout is one runner's rollout: start it, have the algorithm wait for
// it (readers), export its spans in three requests, each acknowledged
// before the next, then mark the attempt succeeded.
func runRollout(ctx context.Context, client *http.Client, c *collector, sender loadgen.Sender, index int, transport string,
	readers *sync.WaitGroup, record func(rywResult), errs chan<- error,
) error {
	var started wireRollout
	if err := postJSONStatusContext(ctx, client, c.api("/v1/agl/rollouts"), http.StatusCreated,
		map[string]any{"input": map[string]any{"task": index}}, &started); err != nil {
		return fmt.Errorf("start rollout: %w", err)
	}
	if started.Attempt == nil {
		return fmt.Errorf("start rollout: no attempt in %+v", started)
	}
	ids := loadgen.IDs{RolloutID: started.RolloutID, AttemptID: started.Attempt.AttemptID}
	td := rywWorkload.Rollout(index, ids, time.Now())
	sent, rewardID := spanIDsAndReward(td)
	requests := loadgen.Split(td, rywRequestSpans)
	if last, _ := spanIDsAndReward(requests[len(requests)-1]); rewardID == "" || last[rewardID] == "" {
		return fmt.Errorf("the reward span %q is not in the last of %d requests", rewardID, len(requests))
	}

	// The algorithm: Agent Lightning's wait_for_rollouts, then query_spans
	// once, the moment the rollout is finished.
	readers.Go(func() {
		r, err := readAtFinish(ctx, client, c, started.RolloutID, sent, rewardID)
		if err != nil {
			errs <- fmt.Errorf("algorithm, rollout %s: %w", started.RolloutID, err)
			return
		}
		r.transport = transport
		record(r)
	})

	for k, req := range requests {
		if err := sendAcknowledged(ctx, sender, req); err != nil {
			return fmt.Errorf("export %d of %d: %w", k+1, len(requests), err)
		}
	}
	var attempt wireAttempt
	url := c.api("/v1/agl/rollouts/" + started.RolloutID + "/attempts/" + started.Attempt.AttemptID)
	if err := postJSONContext(ctx, client, url, map[string]any{"status": "succeeded"}, &attempt); err != nil {
		return fmt.Errorf("mark succeeded: %w", err)
	}
	return nil
}

// sendAcknowledged exports td until the collector acknowledges it; a
// refusal ("retry later", as under memory pressure) is retried like an OTLP
// exporter would, until ctx ends.
func sendAcknowledged(ctx context.Context, sender loadgen.Sender, td ptrace.Traces) error {
	for {
		err := sender.Send(ctx, td)
		if err == nil || !loadgen.IsRefused(err) || ctx.Err() != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// spanIDsAndReward lists the span ids of td (id -> name) and the id of its
// reward span (agentlightning.annotation with a reward value).
func spanIDsAndReward(td ptrace.Traces) (map[string]string, string) {
	ids := map[string]string{}
	reward := ""
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, s := range ss.Spans().All() {
				id := s.SpanID().String()
				ids[id] = s.Name()
				if _, ok := s.Attributes().Get("agentlightning.reward.0.value"); ok && s.Name() == "agentlightning.annotation" {
					reward = id
				}
			}
		}
	}
	return ids, reward
}

// readAtFinish waits until the rollout is finished, then reads its spans
// once and compares them with the ones its runner sent.
func readAtFinish(ctx context.Context, client *http.Client, c *collector, rolloutID string, sent map[string]string, rewardID string) (rywResult, error) {
	r := rywResult{rolloutID: rolloutID, sent: len(sent)}
	for {
		var done []wireRollout
		if err := postJSONContext(ctx, client, c.api("/v1/agl/waits/rollouts"),
			map[string]any{"rollout_ids": []string{rolloutID}, "timeout": 5}, &done); err != nil {
			return r, fmt.Errorf("wait_for_rollouts: %w", err)
		}
		if len(done) == 1 {
			r.status = done[0].Status
			break
		}
		if ctx.Err() != nil {
			return r, fmt.Errorf("never finished: %w", ctx.Err())
		}
	}
	var spans page[struct {
		SpanID     string         `json:"span_id"`
		Name       string         `json:"name"`
		Attributes map[string]any `json:"attributes"`
	}]
	if err := postJSONContext(ctx, client, c.api("/v1/agl/spans/search"),
		map[string]any{"rollout_id": rolloutID, "limit": -1}, &spans); err != nil {
		return r, fmt.Errorf("query_spans: %w", err)
	}
	for _, s := range spans.Items {
		if _, ok := sent[s.SpanID]; !ok {
			continue
		}
		r.got++
		if s.SpanID == rewardID {
			_, r.reward = s.Attributes["agentlightning.reward.0.value"]
		}
	}
	return r, nil
}

// reportReadYourWrites fails the test unless every rollout was complete at
// its first read, listing how many were not, by transport.
func reportReadYourWrites(t *testing.T, results []rywResult) {
	t.Helper()
	type tally struct{ rollouts, incomplete, noReward, spansSent, spansMissing int }
	byTransport := map[string]*tally{}
	var incomplete []rywResult
	for _, r := range results {
		tl := byTransport[r.transport]
		if tl == nil {
			tl = &tally{}
			byTransport[r.transport] = tl
		}
		tl.rollouts++
		tl.spansSent += r.sent
		tl.spansMissing += r.sent - r.got
		if !r.reward {
			tl.noReward++
		}
		if !r.complete() {
			tl.incomplete++
			incomplete = append(incomplete, r)
		}
	}
	var lines []string
	for _, tr := range rywTransports {
		if tl := byTransport[tr.name]; tl != nil {
			lines = append(lines, fmt.Sprintf("%s: %d of %d rollouts incomplete, %d without their reward, %d of %d spans missing",
				tr.name, tl.incomplete, tl.rollouts, tl.noReward, tl.spansMissing, tl.spansSent))
		}
	}
	summary := strings.Join(lines, "\n  ")
	if len(incomplete) == 0 {
		t.Logf("every rollout complete when first seen succeeded:\n  %s", summary)
		return
	}
	sort.Slice(incomplete, func(i, j int) bool { return incomplete[i].rolloutID < incomplete[j].rolloutID })
	var examples []string
	for _, r := range incomplete[:min(5, len(incomplete))] {
		examples = append(examples, fmt.Sprintf("%s (%s, %s): %d of %d spans, reward %t", r.rolloutID, r.transport, r.status, r.got, r.sent, r.reward))
	}
	t.Fatalf("%d of %d rollouts were incomplete when first seen finished:\n  %s\nfor example:\n  %s",
		len(incomplete), len(results), summary, strings.Join(examples, "\n  "))
}
