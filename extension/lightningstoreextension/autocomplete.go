package lightningstoreextension

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/extension/lightningstoreextension/internal/metadata"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// autoCompleter ends the attempts nobody else will end (D17): those of
// rollouts the store created from spans (an agent that knows nothing of
// Agent Lightning, or one that only names its rollout through
// OTEL_RESOURCE_ATTRIBUTES). A runner ends the attempts of the rollouts it
// dequeued; here nobody would, and such attempts stayed running forever.
//
//   - An attempt whose root span (a span without a parent) has arrived and
//     that has received no span for Settle becomes succeeded: OTel SDKs
//     export a span when it ends, and the root ends last.
//   - An attempt that has received no span for IdleTimeout without a root
//     span becomes timeout: the agent crashed or lost its root span, so the
//     run is not known to be complete.
//
// It follows the spans the store commits (every door), and keeps only the
// attempts with recent spans, at most maxTracked. A span that arrives after
// its attempt ended is stored as any late span is (the triplets are rebuilt)
// and does not reopen the attempt.
type autoCompleter struct {
	core        *store.Core
	logger      *zap.Logger
	telemetry   *metadata.TelemetryBuilder // nil in unit tests of the rules
	settle      time.Duration
	idleTimeout time.Duration
	maxTracked  int
	now         func() time.Time
	tick        time.Duration

	mu        sync.Mutex
	attempts  map[attemptKey]*attemptActivity
	untracked int64 // attempts not tracked because maxTracked were

	stop chan struct{}
	done chan struct{}
}

type attemptKey struct{ rollout, attempt string }

type attemptActivity struct {
	last     time.Time
	rootSeen bool
	// ours is decided once per attempt: whether its rollout was created
	// from spans (unknown until the first check).
	checked, ours bool
}

// defaultMaxTracked bounds the attempts followed at once (about 100 bytes
// each); past it new attempts are left running and counted.
const defaultMaxTracked = 100_000

func newAutoCompleter(core *store.Core, cfg AutoCompleteConfig, logger *zap.Logger, tb *metadata.TelemetryBuilder) *autoCompleter {
	tick := time.Second
	if cfg.Settle > 0 && cfg.Settle/2 < tick {
		tick = max(cfg.Settle/2, 10*time.Millisecond)
	}
	return &autoCompleter{
		core: core, logger: logger, telemetry: tb, settle: cfg.Settle, idleTimeout: cfg.IdleTimeout,
		maxTracked: defaultMaxTracked, now: time.Now, tick: tick,
		attempts: map[attemptKey]*attemptActivity{},
		stop:     make(chan struct{}), done: make(chan struct{}),
	}
}

// enabled reports whether any rule is on.
func (a *autoCompleter) enabled() bool { return a.settle > 0 || a.idleTimeout > 0 }

// observe records committed spans. It runs on the ingest path, so it only
// updates memory.
func (a *autoCompleter) observe(spans []model.Span) {
	now := a.now()
	untracked := int64(0)
	a.mu.Lock()
	defer func() {
		a.mu.Unlock()
		if untracked > 0 && a.telemetry != nil {
			a.telemetry.LightningstoreAttemptsUntracked.Add(context.Background(), untracked)
		}
	}()
	for i := range spans {
		s := &spans[i]
		k := attemptKey{s.RolloutID, s.AttemptID}
		act := a.attempts[k]
		if act == nil {
			if len(a.attempts) >= a.maxTracked {
				a.untracked++
				untracked++
				continue
			}
			act = &attemptActivity{}
			a.attempts[k] = act
		}
		act.last = now
		if s.ParentID == nil || *s.ParentID == "" {
			act.rootSeen = true
		}
	}
}

func (a *autoCompleter) start() {
	go a.run()
}

// resumePageSize is how many running rollouts one resume query reads, and
// resumeSpanLimit how many spans of one attempt it looks through for a root.
const (
	resumePageSize  = 500
	resumeSpanLimit = 10_000
)

// resume follows again the running attempts of rollouts created from spans
// that a previous process was following when it stopped (or that predate
// auto_complete): as if their last span had just arrived, with their root
// span seen when the store holds one. Without it such an attempt would wait
// for a span that may never come.
func (a *autoCompleter) resume(ctx context.Context) {
	now := a.now()
	for offset := 0; ; offset += resumePageSize {
		page, err := a.core.QueryRollouts(ctx, store.RolloutQuery{
			StatusIn: []model.RolloutStatus{model.RolloutRunning},
			Page:     store.Page{SortOrder: store.SortAsc, Limit: resumePageSize, Offset: offset},
		})
		if err != nil {
			a.logger.Warn("Cannot list running rollouts to end their attempts; they end when their next span arrives", zap.Error(err))
			return
		}
		for _, r := range page.Items {
			if r.Attempt == nil || r.Attempt.Status.Ended() || !createdFromSpans(r.Metadata) {
				continue
			}
			rootSeen, err := a.hasRoot(ctx, r.RolloutID, r.Attempt.AttemptID)
			if err != nil {
				a.logger.Warn("Cannot read the spans of a running attempt", zap.String("rollout_id", r.RolloutID), zap.Error(err))
				continue
			}
			k := attemptKey{r.RolloutID, r.Attempt.AttemptID}
			a.mu.Lock()
			full := len(a.attempts) >= a.maxTracked
			if _, known := a.attempts[k]; !known && !full {
				a.attempts[k] = &attemptActivity{last: now, rootSeen: rootSeen, checked: true, ours: true}
			}
			a.mu.Unlock()
			if full {
				return
			}
		}
		if len(page.Items) < resumePageSize {
			return
		}
	}
}

// hasRoot reports whether the store holds a span without a parent for the
// attempt (among its first resumeSpanLimit spans).
func (a *autoCompleter) hasRoot(ctx context.Context, rolloutID, attemptID string) (bool, error) {
	page, err := a.core.QuerySpans(ctx, store.SpanQuery{
		RolloutID: rolloutID, AttemptID: &attemptID,
		Page: store.Page{SortOrder: store.SortAsc, Limit: resumeSpanLimit},
	})
	if err != nil {
		return false, err
	}
	for _, s := range page.Items {
		if s.ParentID == nil || *s.ParentID == "" {
			return true, nil
		}
	}
	return false, nil
}

func (a *autoCompleter) shutdown() {
	close(a.stop)
	<-a.done
}

func (a *autoCompleter) run() {
	defer close(a.done)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-a.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	defer cancel()
	a.resume(ctx)
	t := time.NewTicker(a.tick)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
			a.sweep(ctx)
		}
	}
}

// due lists the attempts whose rule fired, with the status each gets.
func (a *autoCompleter) due() map[attemptKey]model.AttemptStatus {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[attemptKey]model.AttemptStatus{}
	for k, act := range a.attempts {
		quiet := now.Sub(act.last)
		switch {
		case act.checked && !act.ours:
			// A runner's rollout: forget it once it has been quiet, it is
			// not ours to end.
			if quiet >= max(a.settle, a.idleTimeout, time.Minute) {
				delete(a.attempts, k)
			}
		case act.rootSeen && a.settle > 0 && quiet >= a.settle:
			out[k] = model.AttemptSucceeded
		case a.idleTimeout > 0 && quiet >= a.idleTimeout:
			out[k] = model.AttemptTimeout
		}
	}
	return out
}

// sweep ends the due attempts that are ours and still running.
func (a *autoCompleter) sweep(ctx context.Context) {
	for k, status := range a.due() {
		ours, err := a.owned(ctx, k)
		if err != nil {
			a.logger.Debug("Cannot read an attempt to end it; will try again", zap.String("rollout_id", k.rollout), zap.Error(err))
			continue
		}
		if !ours {
			continue
		}
		if err := a.complete(ctx, k, status); err != nil {
			a.logger.Debug("Cannot end an attempt; will try again", zap.String("rollout_id", k.rollout), zap.Error(err))
			continue
		}
		a.mu.Lock()
		delete(a.attempts, k)
		a.mu.Unlock()
	}
}

// owned decides, once per attempt, whether its rollout was created from
// spans (metadata source "auto" or "otlp"), so a runner's rollouts are
// never touched.
func (a *autoCompleter) owned(ctx context.Context, k attemptKey) (bool, error) {
	a.mu.Lock()
	act := a.attempts[k]
	if act == nil {
		a.mu.Unlock()
		return false, nil
	}
	if act.checked {
		ours := act.ours
		a.mu.Unlock()
		return ours, nil
	}
	a.mu.Unlock()
	r, err := a.core.GetRollout(ctx, k.rollout)
	if err != nil {
		return false, err
	}
	ours := r != nil && createdFromSpans(r.Metadata)
	a.mu.Lock()
	if act := a.attempts[k]; act != nil {
		act.checked, act.ours = true, ours
	}
	a.mu.Unlock()
	return ours, nil
}

// createdFromSpans reports whether rollout metadata is what the identity
// policy gives the rollouts ingest creates (otlpspan.AutoMetadata,
// otlpspan.OTLPMetadata).
func createdFromSpans(meta json.RawMessage) bool {
	if len(bytes.TrimSpace(meta)) == 0 {
		return false
	}
	var m struct {
		Source string `json:"source"`
	}
	if json.Unmarshal(meta, &m) != nil {
		return false
	}
	return m.Source == "auto" || m.Source == "otlp"
}

// complete sets the status of a running attempt; one that already ended
// (an explicit update through the API) is left as it is.
func (a *autoCompleter) complete(ctx context.Context, k attemptKey, status model.AttemptStatus) error {
	latest, err := a.core.GetLatestAttempt(ctx, k.rollout)
	if err != nil {
		return err
	}
	if latest == nil || latest.AttemptID != k.attempt || latest.Status.Ended() {
		return nil
	}
	_, err = a.core.UpdateAttempt(ctx, k.rollout, k.attempt, store.AttemptUpdate{Status: store.To(status)})
	if err == nil && a.telemetry != nil {
		a.telemetry.LightningstoreAttemptsAutoCompleted.Add(ctx, 1,
			metric.WithAttributeSet(attribute.NewSet(attribute.String("status", string(status)))))
	}
	if err == nil {
		a.logger.Debug("Ended an attempt of a rollout created from spans",
			zap.String("rollout_id", k.rollout), zap.String("attempt_id", k.attempt), zap.String("status", string(status)))
	}
	return err
}
