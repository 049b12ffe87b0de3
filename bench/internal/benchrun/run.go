package benchrun

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/otelcol-lightning/otelcol-lightning/bench/loadgen"
)

// LoadConfig is the load every target receives.
type LoadConfig struct {
	Workload loadgen.Workload
	// Rollouts of the throughput phase.
	Rollouts int
	// Workers send rollouts concurrently in the throughput phase (a closed
	// loop: each sends its next rollout as soon as the last is acknowledged).
	Workers int
	// SpansPerRequest splits a rollout into several exports; 0 sends each
	// rollout in one request, as a batching SDK flushing at the end of a
	// run does.
	SpansPerRequest int
	// Protocol is "http" or "grpc" (targets without gRPC get http).
	Protocol string
	// LatencyRate is the background load, in spans/s, of the latency phase.
	LatencyRate float64
	// LatencyDuration is how long the latency phase lasts.
	LatencyDuration time.Duration
	// Probers is how many latency probes run at once.
	Probers int
	// DrainTimeout bounds the wait for data after the last export.
	DrainTimeout time.Duration
}

// Result is one target's figures. Pointers are nil where a figure does not
// apply (no store, no triplets) or the target was skipped.
type Result struct {
	Key      string `json:"key"`
	Name     string `json:"name"`
	Skipped  string `json:"skipped,omitempty"`
	Error    string `json:"error,omitempty"`
	Protocol string `json:"protocol,omitempty"`

	Rollouts       int      `json:"rollouts"`
	Spans          int      `json:"spans"`
	Triplets       int      `json:"triplets"`
	SpansPerSec    *float64 `json:"spans_per_sec"`
	TripletsPerSec *float64 `json:"triplets_per_sec"`
	// Throughput-phase problems: exports that failed after retries, retries,
	// rollouts whose spans or triplets never all appeared.
	FailedExports   int64  `json:"failed_exports"`
	Retries         int64  `json:"retries"`
	MissingSpans    int    `json:"rollouts_missing_spans"`
	MissingTriplets int    `json:"rollouts_missing_triplets"`
	FirstError      string `json:"first_error,omitempty"`
	// SendSeconds is how long the throughput phase's exports took (until
	// the last acknowledgement); DrainSeconds how much longer until the last
	// span was readable.
	SendSeconds  float64 `json:"send_seconds"`
	DrainSeconds float64 `json:"drain_seconds"`
	// Mean time of one rollout's export(s) and of one update_attempt call
	// in the throughput phase.
	MeanExportMs   float64 `json:"mean_export_ms"`
	MeanCompleteMs float64 `json:"mean_update_attempt_ms"`

	VisibleP50Ms        *float64 `json:"visible_p50_ms"`
	VisibleP99Ms        *float64 `json:"visible_p99_ms"`
	VisibleSamples      int      `json:"visible_samples"`
	TripletsP50Ms       *float64 `json:"triplets_p50_ms"`
	TripletsP99Ms       *float64 `json:"triplets_p99_ms"`
	TripletsSamples     int      `json:"triplets_samples"`
	LatencyLoadAchieved float64  `json:"latency_phase_spans_per_sec"`

	PeakRSSBytes *int64 `json:"peak_rss_bytes"`

	// CPUSeconds is the CPU time (user + system) the server process used
	// during the throughput phase; CPUMsPerRollout divides it by the phase's
	// rollouts.
	CPUSeconds      float64  `json:"cpu_seconds"`
	CPUMsPerRollout *float64 `json:"cpu_ms_per_rollout"`
}

// Run measures one started target: the throughput phase, then (for targets
// with a store) the latency phase, then its peak memory.
func Run(ctx context.Context, t Target, inst *Instance, cfg LoadConfig) (Result, error) {
	res := Result{Key: t.Key, Name: t.Name, Protocol: cfg.Protocol}
	if cfg.Protocol == "grpc" && inst.OTLPGRPC == "" {
		res.Protocol = "http"
	}
	newSender := func() (loadgen.Sender, error) {
		if res.Protocol == "grpc" {
			return loadgen.NewGRPCSender(inst.OTLPGRPC, loadgen.Options{})
		}
		return loadgen.NewHTTPSender(inst.OTLPHTTP, loadgen.HTTPOptions{}), nil
	}
	if err := runThroughput(ctx, t, inst, cfg, newSender, &res); err != nil {
		return res, err
	}
	if t.Store && cfg.LatencyDuration > 0 {
		if err := runLatency(ctx, t, inst, cfg, newSender, &res); err != nil {
			return res, err
		}
	}
	rss, err := inst.Proc.PeakRSS()
	if err != nil {
		return res, fmt.Errorf("peak RSS: %w", err)
	}
	res.PeakRSSBytes = &rss
	return res, nil
}

// createRollouts starts n rollouts through the API (untimed setup), or
// makes up ids for a target without a store.
func createRollouts(ctx context.Context, api *API, n int, prefix string) ([]loadgen.IDs, error) {
	ids := make([]loadgen.IDs, n)
	if api == nil {
		for i := range ids {
			ids[i] = loadgen.IDs{RolloutID: fmt.Sprintf("ro-%s-%d", prefix, i), AttemptID: "at-1"}
		}
		return ids, nil
	}
	var next atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				id, err := api.StartRollout(ctx, map[string]any{"task": prefix, "index": i})
				if err != nil {
					mu.Lock()
					firstErr = cmp(firstErr, err)
					mu.Unlock()
					return
				}
				ids[i] = id
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("create %s rollouts: %w", prefix, firstErr)
	}
	return ids, nil
}

func cmp(old, err error) error {
	if old != nil {
		return old
	}
	return err
}

// counters collect export problems from many goroutines.
type counters struct {
	failed, retries atomic.Int64
	// Time spent in exports and in update_attempt calls, and their number.
	exportNanos, exports, completeNanos, completes atomic.Int64
	mu                                             sync.Mutex
	first                                          error
}

func (c *counters) fail(err error) {
	c.failed.Add(1)
	c.mu.Lock()
	c.first = cmp(c.first, err)
	c.mu.Unlock()
}

// sendRollout exports td (split as configured), retrying what an OTLP
// exporter retries: throttling, unavailability and connection errors.
func sendRollout(ctx context.Context, s loadgen.Sender, td ptrace.Traces, perRequest int, c *counters) error {
	for _, part := range loadgen.Split(td, perRequest) {
		backoff := 20 * time.Millisecond
		for try := 0; ; try++ {
			err := s.Send(ctx, part)
			if err == nil {
				break
			}
			if !retryable(err) || try >= 30 || ctx.Err() != nil {
				return err
			}
			c.retries.Add(1)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
		}
	}
	return nil
}

func retryable(err error) bool {
	var se *loadgen.StatusError
	if errors.As(err, &se) {
		switch se.Code {
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	var pe *loadgen.PartialError
	if errors.As(err, &pe) {
		return false
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
		switch st.Code() {
		case codes.Unavailable, codes.ResourceExhausted, codes.Aborted, codes.DeadlineExceeded:
			return true
		}
		return false
	}
	return true // transport errors: connection refused or reset
}

// checkers is how many goroutines read rollouts back at once.
const checkers = 4

// runThroughput sends cfg.Rollouts rollouts as fast as the target accepts
// them; for a store it also completes each attempt (a runner's
// update_attempt) and waits until every span and triplet can be read back.
func runThroughput(ctx context.Context, t Target, inst *Instance, cfg LoadConfig,
	newSender func() (loadgen.Sender, error), res *Result) error {
	w := cfg.Workload
	ids, err := createRollouts(ctx, inst.API, cfg.Rollouts, "load")
	if err != nil {
		return err
	}
	perRollout := w.SpansPerRollout()
	var c counters
	var sendEnd atomic.Int64
	deadline := func() time.Time {
		if e := sendEnd.Load(); e != 0 {
			return time.Unix(0, e).Add(cfg.DrainTimeout)
		}
		return time.Time{}
	}

	sent := make(chan int, cfg.Rollouts)
	stored := make(chan int, cfg.Rollouts)
	// Checkers read every rollout back (as a trainer reads its data) a few
	// at a time, so that the check keeps up with the load and its lag does
	// not count as ingest time.
	var mu sync.Mutex
	var lastStored, lastTriplets time.Duration
	var storedSpans, builtTriplets int
	var spanCheckers, tripletCheckers sync.WaitGroup
	cpuBegin, err := inst.Proc.CPUSeconds()
	if err != nil {
		return err
	}
	begin := time.Now()
	if t.Store {
		for range checkers {
			spanCheckers.Go(func() {
				for i := range sent {
					err := waitFor(ctx, deadline, func() (bool, error) {
						n, err := inst.API.SpanCount(ctx, ids[i])
						return n >= perRollout, err
					})
					mu.Lock()
					if err != nil {
						res.MissingSpans++
					} else {
						lastStored = max(lastStored, time.Since(begin))
						storedSpans += perRollout
					}
					mu.Unlock()
					if err == nil && t.Triplets {
						stored <- i
					}
				}
			})
		}
		go func() {
			spanCheckers.Wait()
			close(stored)
		}()
		for range checkers {
			tripletCheckers.Go(func() {
				for i := range stored {
					err := waitFor(ctx, deadline, func() (bool, error) {
						n, err := inst.API.TripletCount(ctx, ids[i].RolloutID)
						return n >= w.TripletsPerRollout(), err
					})
					mu.Lock()
					if err != nil {
						res.MissingTriplets++
					} else {
						lastTriplets = max(lastTriplets, time.Since(begin))
						builtTriplets += w.TripletsPerRollout()
					}
					mu.Unlock()
				}
			})
		}
	} else {
		close(stored)
	}

	work := make(chan int)
	var workers sync.WaitGroup
	for range max(1, cfg.Workers) {
		s, err := newSender()
		if err != nil {
			return err
		}
		workers.Go(func() {
			defer s.Close()
			for i := range work {
				td := w.Rollout(i, ids[i], time.Now())
				began := time.Now()
				if err := sendRollout(ctx, s, td, cfg.SpansPerRequest, &c); err != nil {
					c.fail(err)
					continue
				}
				c.exportNanos.Add(int64(time.Since(began)))
				c.exports.Add(1)
				if t.Store {
					began = time.Now()
					if err := inst.API.CompleteAttempt(ctx, ids[i].RolloutID); err != nil {
						c.fail(err)
					}
					c.completeNanos.Add(int64(time.Since(began)))
					c.completes.Add(1)
				}
				sent <- i
			}
		})
	}
	for i := range cfg.Rollouts {
		work <- i
	}
	close(work)
	workers.Wait()
	sendEnd.Store(time.Now().UnixNano())
	sendElapsed := time.Since(begin)
	close(sent)
	spanCheckers.Wait()
	tripletCheckers.Wait()
	cpuEnd, err := inst.Proc.CPUSeconds()
	if err != nil {
		return err
	}

	res.Rollouts = cfg.Rollouts
	res.CPUSeconds = cpuEnd - cpuBegin
	if cfg.Rollouts > 0 {
		perRollout := 1000 * res.CPUSeconds / float64(cfg.Rollouts)
		res.CPUMsPerRollout = &perRollout
	}
	res.SendSeconds = sendElapsed.Seconds()
	if lastStored > sendElapsed {
		res.DrainSeconds = (lastStored - sendElapsed).Seconds()
	}
	res.FailedExports, res.Retries = c.failed.Load(), c.retries.Load()
	res.MeanExportMs = meanMs(c.exportNanos.Load(), c.exports.Load())
	res.MeanCompleteMs = meanMs(c.completeNanos.Load(), c.completes.Load())
	if c.first != nil {
		res.FirstError = c.first.Error()
	}
	if !t.Store {
		acked := (cfg.Rollouts - int(res.FailedExports)) * perRollout
		res.Spans = acked
		res.SpansPerSec = rate(acked, sendElapsed)
		return nil
	}
	res.Spans = storedSpans
	res.SpansPerSec = rate(storedSpans, lastStored)
	if t.Triplets {
		res.Triplets = builtTriplets
		res.TripletsPerSec = rate(builtTriplets, lastTriplets)
	}
	return nil
}

func meanMs(nanos, n int64) float64 {
	if n == 0 {
		return 0
	}
	return float64(nanos) / float64(n) / 1e6
}

func rate(n int, d time.Duration) *float64 {
	if n == 0 || d <= 0 {
		return nil
	}
	v := float64(n) / d.Seconds()
	return &v
}

// runLatency offers a steady background load of cfg.LatencyRate spans/s
// and meanwhile measures, with probe rollouts, the time from the start of
// an export to its spans being visible in query_spans, and from the
// attempt's completion to its triplets.
func runLatency(ctx context.Context, t Target, inst *Instance, cfg LoadConfig,
	newSender func() (loadgen.Sender, error), res *Result) error {
	w := cfg.Workload
	perRollout := w.SpansPerRollout()
	every := time.Duration(float64(time.Second) * float64(perRollout) / max(cfg.LatencyRate, 1))
	background, err := createRollouts(ctx, inst.API, int(cfg.LatencyDuration/every)+1, "bg")
	if err != nil {
		return err
	}
	// A probe takes at least a few milliseconds; this many cannot run out.
	probes, err := createRollouts(ctx, inst.API, max(20, int(cfg.LatencyDuration/(20*time.Millisecond))*max(1, cfg.Probers)/4), "probe")
	if err != nil {
		return err
	}

	var c counters
	phaseCtx, stop := context.WithTimeout(ctx, cfg.LatencyDuration)
	defer stop()

	// Background: one rollout every `every`, sent by a pool so that a slow
	// answer does not slow the offered load (until the pool is exhausted).
	jobs := make(chan int, 64)
	var pool sync.WaitGroup
	var bgSent atomic.Int64
	for range 16 {
		s, err := newSender()
		if err != nil {
			return err
		}
		pool.Go(func() {
			defer s.Close()
			for i := range jobs {
				td := w.Rollout(1_000_000+i, background[i], time.Now())
				if err := sendRollout(ctx, s, td, cfg.SpansPerRequest, &c); err != nil {
					c.fail(err)
					continue
				}
				bgSent.Add(int64(perRollout))
				if err := inst.API.CompleteAttempt(ctx, background[i].RolloutID); err != nil {
					c.fail(err)
				}
			}
		})
	}
	begin := time.Now()
	pool.Go(func() {
		defer close(jobs)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := range background {
			select {
			case <-phaseCtx.Done():
				return
			case <-tick.C:
			}
			select {
			case jobs <- i:
			default: // the target is not keeping up; the shortfall shows in the achieved rate
			}
		}
	})

	var mu sync.Mutex
	var visible, triplets []time.Duration
	var nextProbe atomic.Int64
	var probers sync.WaitGroup
	for range max(1, cfg.Probers) {
		s, err := newSender()
		if err != nil {
			return err
		}
		probers.Go(func() {
			defer s.Close()
			for phaseCtx.Err() == nil {
				i := int(nextProbe.Add(1) - 1)
				if i >= len(probes) {
					return
				}
				v, tr, err := probe(ctx, s, inst.API, w, 2_000_000+i, probes[i], t.Triplets, cfg.SpansPerRequest, &c)
				if err != nil {
					c.fail(err)
					continue
				}
				mu.Lock()
				visible = append(visible, v)
				if t.Triplets {
					triplets = append(triplets, tr)
				}
				mu.Unlock()
			}
		})
	}
	probers.Wait()
	pool.Wait()
	res.LatencyLoadAchieved = float64(bgSent.Load()) / time.Since(begin).Seconds()
	res.FailedExports += c.failed.Load()
	res.Retries += c.retries.Load()
	if res.FirstError == "" && c.first != nil {
		res.FirstError = c.first.Error()
	}
	res.VisibleSamples, res.VisibleP50Ms, res.VisibleP99Ms = len(visible), percentileMs(visible, 50), percentileMs(visible, 99)
	if t.Triplets {
		res.TripletsSamples, res.TripletsP50Ms, res.TripletsP99Ms = len(triplets), percentileMs(triplets, 50), percentileMs(triplets, 99)
	}
	return nil
}

// probe sends one rollout and times how long until query_spans shows all
// its spans, then completes its attempt and times how long until its
// triplets can be read.
func probe(ctx context.Context, s loadgen.Sender, api *API, w loadgen.Workload, index int, ids loadgen.IDs,
	withTriplets bool, perRequest int, c *counters) (visible, triplets time.Duration, err error) {
	td := w.Rollout(index, ids, time.Now())
	begin := time.Now()
	if err := sendRollout(ctx, s, td, perRequest, c); err != nil {
		return 0, 0, err
	}
	limit := func() time.Time { return begin.Add(60 * time.Second) }
	err = waitFor(ctx, limit, func() (bool, error) {
		n, err := api.SpanCount(ctx, ids)
		return n >= w.SpansPerRollout(), err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("probe %s: spans not visible: %w", ids.RolloutID, err)
	}
	visible = time.Since(begin)
	completed := time.Now()
	if err := api.CompleteAttempt(ctx, ids.RolloutID); err != nil {
		return 0, 0, err
	}
	if !withTriplets {
		return visible, 0, nil
	}
	limit = func() time.Time { return completed.Add(60 * time.Second) }
	err = waitFor(ctx, limit, func() (bool, error) {
		n, err := api.TripletCount(ctx, ids.RolloutID)
		return n >= w.TripletsPerRollout(), err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("probe %s: triplets not built: %w", ids.RolloutID, err)
	}
	return visible, time.Since(completed), nil
}

// percentileMs is the nearest-rank percentile p of ds, in milliseconds.
func percentileMs(ds []time.Duration, p float64) *float64 {
	if len(ds) == 0 {
		return nil
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	v := float64(sorted[rank-1]) / float64(time.Millisecond)
	return &v
}
