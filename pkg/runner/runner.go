package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// Config tunes a Runner. Zero durations take the defaults below.
type Config struct {
	// Mode names the executor in logs, worker ids and heartbeat stats
	// ("command", "http").
	Mode string
	// Workers is the number of rollouts run at the same time (default 1).
	Workers int
	// WorkerIDPrefix names the workers <prefix>-<i>, i from 1. Default
	// "<hostname>-<mode>", so two collectors sharing a store do not mix up
	// their workers while a restarted one finds its own.
	WorkerIDPrefix string
	// PollInterval is how long an idle worker waits before dequeuing again
	// when nothing woke it (default 1s; ±10% jitter).
	PollInterval time.Duration
	// HeartbeatInterval is the period of UpdateWorker (default 10s, as
	// Agent Lightning).
	HeartbeatInterval time.Duration
	// AttemptHeartbeatInterval is the period of the attempt heartbeat while
	// an agent runs (default 5s, and at most a third of the rollout's
	// unresponsive_seconds).
	AttemptHeartbeatInterval time.Duration
	// ShutdownGrace is how long Stop lets running rollouts finish before
	// killing them (default 10s).
	ShutdownGrace time.Duration
	// OTLPEndpoint is the OTLP/HTTP endpoint agents export to, handed to
	// them in OTEL_EXPORTER_OTLP_ENDPOINT or the request body.
	OTLPEndpoint string
}

// Defaults of Config.
const (
	DefaultPollInterval             = time.Second
	DefaultHeartbeatInterval        = 10 * time.Second
	DefaultAttemptHeartbeatInterval = 5 * time.Second
	DefaultShutdownGrace            = 10 * time.Second
	// minAttemptHeartbeat keeps a tiny unresponsive_seconds from turning
	// the heartbeat into a busy loop.
	minAttemptHeartbeat = 50 * time.Millisecond
	// finishTimeout bounds the store calls that record an outcome; they run
	// on a fresh context because the job's may already be cancelled.
	finishTimeout = 10 * time.Second
)

func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = 1
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.AttemptHeartbeatInterval <= 0 {
		c.AttemptHeartbeatInterval = DefaultAttemptHeartbeatInterval
	}
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = DefaultShutdownGrace
	}
	if c.WorkerIDPrefix == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "otelcol"
		}
		c.WorkerIDPrefix = host + "-" + c.Mode
	}
	return c
}

// Observer is told about attempts as they run, for the caller's metrics.
// Its methods must not block.
type Observer interface {
	// AttemptStarted is called when a worker claims a rollout.
	AttemptStarted()
	// AttemptFinished is called with the status recorded for the attempt,
	// or "" when the attempt was abandoned (its rollout was cancelled or
	// another party ended it).
	AttemptFinished(status model.AttemptStatus, elapsed time.Duration)
}

type nopObserver struct{}

func (nopObserver) AttemptStarted()                                    {}
func (nopObserver) AttemptFinished(model.AttemptStatus, time.Duration) {}

// Why a job's context was cancelled; the cause decides the attempt status.
var (
	errTimeout   = errors.New("attempt timed out (timeout_seconds)")
	errShutdown  = errors.New("collector shutdown")
	errAbandoned = errors.New("attempt abandoned")
)

// Runner is a pool of workers that claim rollouts and hand them to an
// Executor.
type Runner struct {
	store    store.Store
	exec     Executor
	cfg      Config
	logger   *zap.Logger
	observer Observer

	workerIDs []string
	wake      *signal
	done      atomic.Int64 // attempts finished, for heartbeat stats
	busy      atomic.Int64

	mu          sync.Mutex
	started     bool
	stopLoops   context.CancelFunc
	killJobs    context.CancelCauseFunc
	jobsCtx     context.Context
	workers     sync.WaitGroup
	background  sync.WaitGroup
	unsubscribe func()
}

// New returns a Runner; nothing runs before Start. observer may be nil.
func New(s store.Store, exec Executor, cfg Config, logger *zap.Logger, observer Observer) *Runner {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = zap.NewNop()
	}
	if observer == nil {
		observer = nopObserver{}
	}
	ids := make([]string, cfg.Workers)
	for i := range ids {
		ids[i] = cfg.WorkerIDPrefix + "-" + strconv.Itoa(i+1)
	}
	return &Runner{store: s, exec: exec, cfg: cfg, logger: logger, observer: observer, workerIDs: ids, wake: newSignal()}
}

// WorkerIDs returns the ids the workers register under.
func (r *Runner) WorkerIDs() []string { return append([]string(nil), r.workerIDs...) }

// Wake makes idle workers dequeue now instead of at their next poll; call
// it after enqueuing.
func (r *Runner) Wake() { r.wake.broadcast() }

// Start fails the attempts a previous run of these workers left behind,
// registers the workers and starts them.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("runner already started")
	}
	if err := r.recoverOrphans(ctx); err != nil {
		return err
	}
	for _, id := range r.workerIDs {
		if _, err := r.store.UpdateWorker(ctx, id, r.heartbeatStats()); err != nil {
			return fmt.Errorf("register worker %s: %w", id, err)
		}
	}
	loopCtx, stopLoops := context.WithCancel(context.Background())
	jobsCtx, killJobs := context.WithCancelCause(context.Background())
	r.stopLoops, r.killJobs, r.jobsCtx = stopLoops, killJobs, jobsCtx
	if n, ok := r.store.(store.AttemptNotifier); ok {
		// A failed, timed-out or unresponsive attempt may requeue its
		// rollout: look at the queue at once rather than at the next poll.
		r.unsubscribe = n.SubscribeAttempts(func(e store.AttemptEvent) {
			switch e.Status {
			case model.AttemptFailed, model.AttemptTimeout, model.AttemptUnresponsive:
				r.wake.broadcast()
			}
		})
	}
	for _, id := range r.workerIDs {
		r.workers.Add(1)
		go func() {
			defer r.workers.Done()
			r.work(loopCtx, id)
		}()
	}
	r.background.Add(1)
	go func() {
		defer r.background.Done()
		r.heartbeatWorkers(loopCtx)
	}()
	r.started = true
	r.logger.Info("Rollout dispatch started", zap.String("mode", r.cfg.Mode), zap.Strings("workers", r.workerIDs))
	return nil
}

// Stop stops claiming rollouts, lets the running ones finish for
// ShutdownGrace (or until ctx ends), then kills them and sets their
// attempts to failed. It returns once every worker has exited, or with
// ctx's error if that takes longer than ctx allows.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started {
		return nil
	}
	r.started = false
	r.stopLoops()
	if r.unsubscribe != nil {
		r.unsubscribe()
	}
	drained := make(chan struct{})
	go func() {
		r.workers.Wait()
		close(drained)
	}()
	grace := time.NewTimer(r.cfg.ShutdownGrace)
	defer grace.Stop()
	select {
	case <-drained:
	case <-grace.C:
	case <-ctx.Done():
	}
	if n := r.busy.Load(); n > 0 {
		r.logger.Warn("Killing rollouts still running at shutdown", zap.Int64("running", n))
	}
	r.killJobs(errShutdown)
	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		// Executors stop within their kill grace; waiting longer than the
		// caller allows would hold up the collector's shutdown.
		err = fmt.Errorf("dispatch workers still stopping: %w", ctx.Err())
	}
	r.background.Wait()
	r.logger.Info("Rollout dispatch stopped", zap.String("mode", r.cfg.Mode))
	return err
}

// work is one worker's loop: dequeue, run, repeat; wait when idle.
func (r *Runner) work(ctx context.Context, workerID string) {
	for ctx.Err() == nil {
		woken := r.wake.wait()
		claimed, err := r.store.DequeueRollouts(ctx, 1, &workerID)
		if err != nil && ctx.Err() == nil {
			r.logger.Warn("Dequeue failed", zap.String("worker_id", workerID), zap.Error(err))
		}
		if len(claimed) == 1 && claimed[0].Attempt != nil {
			r.run(workerID, claimed[0])
			continue
		}
		timer := time.NewTimer(jitter(r.cfg.PollInterval))
		select {
		case <-ctx.Done():
		case <-woken:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// heartbeatWorkers refreshes every worker's heartbeat until ctx ends.
func (r *Runner) heartbeatWorkers(ctx context.Context) {
	for {
		timer := time.NewTimer(jitter(r.cfg.HeartbeatInterval))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		for _, id := range r.workerIDs {
			if _, err := r.store.UpdateWorker(ctx, id, r.heartbeatStats()); err != nil && ctx.Err() == nil {
				r.logger.Warn("Worker heartbeat failed", zap.String("worker_id", id), zap.Error(err))
			}
		}
	}
}

// heartbeatStats is the worker's self-description; Agent Lightning's
// runner sends a system snapshot, this sends what the collector knows
// cheaply.
func (r *Runner) heartbeatStats() json.RawMessage {
	host, _ := os.Hostname()
	stats := map[string]any{
		"host":            host,
		"os":              runtime.GOOS,
		"arch":            runtime.GOARCH,
		"pid":             os.Getpid(),
		"cpu_cores":       runtime.NumCPU(),
		"mode":            r.cfg.Mode,
		"workers":         len(r.workerIDs),
		"running":         r.busy.Load(),
		"attempts_done":   r.done.Load(),
		"timestamp":       time.Now().UTC().Format(time.RFC3339Nano),
		"dispatcher":      "otelcol-lightning",
		"otlp_endpoint":   r.cfg.OTLPEndpoint,
		"poll_interval_s": r.cfg.PollInterval.Seconds(),
	}
	b, err := json.Marshal(stats)
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}

// recoverOrphans fails the attempts that this runner's workers still hold
// in the store: they belong to a previous process that stopped without
// draining, and nobody else would end them unless the rollout has a
// timeout.
func (r *Runner) recoverOrphans(ctx context.Context) error {
	mine := make(map[string]bool, len(r.workerIDs))
	for _, id := range r.workerIDs {
		mine[id] = true
	}
	page, err := r.store.QueryRollouts(ctx, store.RolloutQuery{
		StatusIn: []model.RolloutStatus{model.RolloutPreparing, model.RolloutRunning},
		Page:     store.AllPage(),
	})
	if err != nil {
		return fmt.Errorf("look for attempts left running by a previous run: %w", err)
	}
	for _, ro := range page.Items {
		a := ro.Attempt
		if a == nil || a.WorkerID == nil || !mine[*a.WorkerID] || a.Status.Ended() {
			continue
		}
		meta := mergeMetadata(a.Metadata, map[string]any{"error": "the collector stopped while the attempt ran"})
		if _, err := r.store.UpdateAttempt(ctx, a.RolloutID, a.AttemptID, store.AttemptUpdate{
			Status:   store.To(model.AttemptFailed),
			Metadata: store.To(meta),
		}); err != nil {
			return fmt.Errorf("fail orphaned attempt %s of rollout %s: %w", a.AttemptID, a.RolloutID, err)
		}
		r.logger.Info("Failed an attempt left running by a previous run",
			zap.String("rollout_id", a.RolloutID), zap.String("attempt_id", a.AttemptID), zap.String("worker_id", *a.WorkerID))
	}
	return nil
}

// jitter spreads d by ±10% so workers and collectors do not poll in step.
func jitter(d time.Duration) time.Duration {
	spread := int64(d) / 10
	if spread <= 0 {
		return d
	}
	return d - time.Duration(spread) + time.Duration(rand.Int64N(2*spread+1))
}

// signal wakes every goroutine waiting on it, any number of times.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func newSignal() *signal { return &signal{ch: make(chan struct{})} }

// wait returns a channel closed by the next broadcast.
func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

func (s *signal) broadcast() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.ch)
	s.ch = make(chan struct{})
}
