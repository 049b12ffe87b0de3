package tripletprocessor

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/processor/tripletprocessor/internal/metadata"
)

type tripletProcessor struct {
	cfg       *Config
	logger    *zap.Logger
	next      consumer.Traces
	builder   *builder
	buf       *buffer
	telemetry *metadata.TelemetryBuilder

	// st is the store of the extension cfg.Store names. The processor works
	// from what the store committed: it follows the stored spans through the
	// extension's span events (it never converts the pipeline's spans
	// itself), builds an attempt from every span the store holds, and writes
	// the triplets to the store.
	st store.Store

	id          component.ID
	events      *eventStore
	unsubscribe func()
	stop        chan struct{}
	// wake runs the completion check at once when the store reports an
	// attempt ended, instead of at the next tick: a trainer waits for those
	// triplets.
	wake chan struct{}
	wg   sync.WaitGroup

	reportedBytes atomic.Int64 // buffer size last added to the buffered_bytes metric

	// resumeLimit bounds the rollouts the start-up scan reads (resume).
	resumeLimit int
}

// resumeLimit is how many finished rollouts, newest first, the start-up scan
// looks at: one triplet read each, and a build for those without triplets.
const (
	resumeLimit    = 1000
	resumePageSize = 200
)

func newProcessor(set processor.Settings, cfg *Config, next consumer.Traces) (*tripletProcessor, error) {
	events := acquireEvents(set.ID, cfg.Limits)
	b, err := newBuilder(cfg, events)
	if err != nil {
		releaseEvents(set.ID)
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	p := &tripletProcessor{
		cfg: cfg, logger: set.Logger, next: next, builder: b,
		buf: newBuffer(*cfg, time.Now), telemetry: tb, id: set.ID, events: events,
		wake: make(chan struct{}, 1), resumeLimit: resumeLimit,
	}
	events.setListener(p.buf.markSpansDirty)
	return p, nil
}

// Capabilities: the processor reads spans but never changes them.
func (p *tripletProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// Start finds the store extension, follows its attempt and span events and
// starts the completion ticker.
func (p *tripletProcessor) Start(_ context.Context, host component.Host) error {
	st, attempts, spans, err := findStore(host, p.cfg.Store)
	if err != nil {
		return err
	}
	p.st = st
	if limit, set := applyGoMemoryLimit(p.cfg.Limits); set {
		p.logger.Info("Go memory limit set from the triplet processor's limits (set GOMEMLIMIT or limits.go_memory_limit_mib to change it)",
			zap.Int64("limit_mib", limit>>20))
	}
	unsubscribe := []func(){attempts.SubscribeAttempts(p.onAttemptEvent), spans.SubscribeSpans(p.onStoredSpans)}
	p.unsubscribe = func() {
		for _, u := range unsubscribe {
			u()
		}
	}
	p.stop = make(chan struct{})
	p.wg.Add(1)
	go p.run()
	return nil
}

// findStore returns the store of extension id and its attempt and span
// events, which the extension reports itself or through its store.
func findStore(host component.Host, id component.ID) (store.Store, store.AttemptNotifier, store.SpanNotifier, error) {
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return nil, nil, nil, fmt.Errorf("extension %s not found; is it listed under service.extensions?", id)
	}
	provider, ok := ext.(store.Provider)
	if !ok || provider.LightningStore() == nil {
		return nil, nil, nil, fmt.Errorf("extension %s does not provide a Lightning store; store must name a lightningstore extension", id)
	}
	st := provider.LightningStore()
	attempts, ok := ext.(store.AttemptNotifier)
	if !ok {
		if attempts, ok = st.(store.AttemptNotifier); !ok {
			return nil, nil, nil, fmt.Errorf("the store of extension %s does not report attempt events", id)
		}
	}
	spans, ok := ext.(store.SpanNotifier)
	if !ok {
		if spans, ok = st.(store.SpanNotifier); !ok {
			return nil, nil, nil, fmt.Errorf("the store of extension %s does not report stored spans", id)
		}
	}
	return st, attempts, spans, nil
}

// onStoredSpans follows every span the store committed, whatever door it
// came through (the OTLP pipeline, /v1/traces, the reward span an Agent
// Lightning runner adds over REST). It runs before the writer's caller
// answers, so it only takes note; building happens on the ticker.
func (p *tripletProcessor) onStoredSpans(spans []model.Span) {
	ctx := context.Background()
	groups := map[attemptKey][]model.Span{}
	var order []attemptKey
	for _, s := range spans {
		k := attemptKey{s.RolloutID, s.AttemptID}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], s)
	}
	for _, k := range order {
		res := p.buf.add(k, groups[k])
		p.telemetry.ProcessorTripletBufferedSpans.Add(ctx, int64(res.added))
		if res.overAttempt > 0 {
			p.telemetry.ProcessorTripletSpansDropped.Add(ctx, int64(res.overAttempt), reason("attempt_limit"))
		}
		if res.overBuffer > 0 {
			p.telemetry.ProcessorTripletSpansDropped.Add(ctx, int64(res.overBuffer), reason(triggerMemoryPressure))
		}
		if res.freed > 0 {
			p.telemetry.ProcessorTripletBufferedSpans.Add(ctx, -int64(res.freed))
		}
		if res.evicted > 0 {
			p.logger.Warn("triplet buffer full: attempts completed early", zap.Int("attempts", res.evicted))
		}
	}
	p.reportBytes(ctx)
}

func (p *tripletProcessor) onAttemptEvent(e store.AttemptEvent) {
	if e.Status.Ended() {
		if !p.buf.markStoreEnded(attemptKey{e.RolloutID, e.AttemptID}) {
			p.telemetry.ProcessorTripletBuildFailures.Add(context.Background(), 1, reason("unfollowed_limit"))
			p.logger.Warn("too many ended attempts wait to be built from the store: this one is left without triplets",
				zap.String("rollout_id", e.RolloutID), zap.String("attempt_id", e.AttemptID))
		}
		select {
		case p.wake <- struct{}{}:
		default: // a check is already due
		}
	}
}

// Shutdown builds the triplets of every attempt still open, so that nothing
// the store accepted is left without them, then stops.
func (p *tripletProcessor) Shutdown(ctx context.Context) error {
	if p.unsubscribe != nil {
		p.unsubscribe()
		p.unsubscribe = nil
	}
	if p.stop != nil {
		close(p.stop)
		p.wg.Wait()
		p.stop = nil
		p.flush(ctx, true)
	}
	p.telemetry.Shutdown()
	if p.events != nil {
		p.events.setListener(nil)
		releaseEvents(p.id)
		p.events = nil
	}
	return nil
}

// ConsumeTraces passes spans on at once: the store reports them to the
// processor once they are committed.
func (p *tripletProcessor) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	return p.next.ConsumeTraces(ctx, td)
}

// reportBytes moves the buffered_bytes metric to the buffer's current size;
// the swap keeps concurrent callers from adding the same change twice.
func (p *tripletProcessor) reportBytes(ctx context.Context) {
	now := int64(p.buf.heapBytes())
	if delta := now - p.reportedBytes.Swap(now); delta != 0 {
		p.telemetry.ProcessorTripletBufferedBytes.Add(ctx, delta)
	}
}

func (p *tripletProcessor) run() {
	defer p.wg.Done()
	if p.cfg.Completion.ResumeWindow > 0 {
		// A shutdown during the scan ends it; the channel is read here, as
		// Shutdown clears the field once run has returned.
		stop := p.stop
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			select {
			case <-stop:
				cancel()
			case <-done:
			}
		}()
		p.resume(ctx, time.Now().Add(-p.cfg.Completion.ResumeWindow))
		close(done)
		cancel()
	}
	t := time.NewTicker(p.cfg.Completion.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.flush(context.Background(), false)
		case <-p.wake:
			p.flush(context.Background(), false)
		}
	}
}

// resume queues the latest attempts of the finished rollouts started since
// `since` (the newest resumeLimit) that have no triplets: they ended while no
// processor followed the store — the collector was killed between an
// attempt's end and its build, or the store ended the attempt before Start
// subscribed (the watchdog's first scan). Attempt events cover every end
// after Start; this covers the ones before it. A store that cannot list
// rollouts by start time is not scanned.
func (p *tripletProcessor) resume(ctx context.Context, since time.Time) {
	browser, ok := p.st.(store.Browser)
	if !ok {
		p.logger.Debug("the store cannot list finished rollouts: ended attempts are not looked for at start")
		return
	}
	q := store.BrowseQuery{
		Status:       []model.RolloutStatus{model.RolloutSucceeded, model.RolloutFailed, model.RolloutCancelled},
		StartedAfter: float64(since.UnixNano()) / 1e9, Desc: true, Limit: min(resumePageSize, p.resumeLimit),
	}
	queued := 0
	for seen := 0; seen < p.resumeLimit; {
		q.Limit = min(q.Limit, p.resumeLimit-seen)
		page, err := browser.BrowseRollouts(ctx, q)
		if err != nil {
			if ctx.Err() == nil {
				p.logger.Warn("cannot list the rollouts that ended before the start: those without triplets keep none", zap.Error(err))
			}
			return
		}
		for _, row := range page.Items {
			seen++
			a := row.Rollout.Attempt
			if a == nil || !a.Status.Ended() {
				continue
			}
			stored, err := p.st.QueryTriplets(ctx, row.Rollout.RolloutID, a.AttemptID)
			if err != nil {
				if ctx.Err() == nil {
					p.logger.Warn("cannot read the triplets of an ended attempt", zap.String("rollout_id", row.Rollout.RolloutID), zap.Error(err))
				}
				return
			}
			if len(stored) > 0 {
				continue
			}
			if !p.buf.markStoreEnded(attemptKey{row.Rollout.RolloutID, a.AttemptID}) {
				p.telemetry.ProcessorTripletBuildFailures.Add(ctx, 1, reason("unfollowed_limit"))
				continue
			}
			queued++
		}
		if page.Next == "" || len(page.Items) == 0 {
			break
		}
		q.After = page.Next
	}
	if queued > 0 {
		p.logger.Info("attempts that ended before the start without triplets are built from the store", zap.Int("attempts", queued))
	}
}

// flush builds and sends the triplets of every attempt that is due.
func (p *tripletProcessor) flush(ctx context.Context, all bool) {
	jobs, freed, evicted, checks := p.buf.due(all)
	for _, k := range checks {
		if a, err := p.st.GetLatestAttempt(ctx, k.rollout); err == nil && a != nil && a.AttemptID == k.attempt && a.Status.Ended() {
			p.buf.markStoreEnded(k)
		}
	}
	if freed > 0 {
		p.telemetry.ProcessorTripletBufferedSpans.Add(ctx, -int64(freed))
		p.reportBytes(ctx)
	}
	if evicted > 0 {
		p.logger.Warn("triplet buffer over its limit: attempts completed early or forgotten", zap.Int("attempts", evicted))
	}
	// Attempts are independent: build them on every core. Their writes meet
	// in the store's group commit.
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for _, j := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			p.complete(ctx, j)
		})
	}
	wg.Wait()
}

// complete builds an attempt from every span the store holds for it, so a
// build after a restart, an eviction or a late span is never built from less
// than what is stored, and writes the triplets at the store's next revision.
// A failed read or write is retried on a later tick.
func (p *tripletProcessor) complete(ctx context.Context, j job) {
	p.telemetry.ProcessorTripletAttemptsCompleted.Add(ctx, 1, metric.WithAttributes(attribute.String("trigger", j.trigger)))
	if j.late {
		p.telemetry.ProcessorTripletAttemptsRecomputed.Add(ctx, 1)
	}
	// An unfollowed attempt may have triplets already; they are read before
	// the spans, so the revision written below follows the one they were
	// built at.
	var stored []model.TripletRecord
	if j.unfollowed {
		var err error
		if stored, err = p.st.QueryTriplets(ctx, j.key.rollout, j.key.attempt); err != nil {
			p.buf.retry(j)
			p.fail(ctx, j, "read", err)
			return
		}
	}
	spans, err := p.attemptSpans(ctx, j)
	if err != nil {
		p.buf.retry(j)
		p.fail(ctx, j, "read", err)
		return
	}
	triplets, err := p.builder.build(spans)
	if err != nil {
		p.fail(ctx, j, "build", err)
		return
	}
	records := make([]model.TripletRecord, len(triplets))
	for i, bt := range triplets {
		records[i] = model.TripletRecord{
			RolloutID: j.key.rollout, AttemptID: j.key.attempt, Index: i, SpanID: bt.call.SpanID, Triplet: bt.triplet,
		}
	}
	revision := store.NextRevision
	switch {
	case j.unfollowed:
		if sameTriplets(stored, records) {
			// Built before (at shutdown, or before the state was forgotten)
			// from the same spans: writing again would only add a revision.
			return
		}
		if len(stored) > 0 {
			// One above the revision read before the spans, so a build
			// written since at a higher revision is not replaced. (One
			// written since at exactly that revision, which only another
			// process sharing the database could do, is: the store replaces
			// equal revisions.)
			revision = stored[0].Revision + 1
		}
	case len(records) == 0 && !j.late:
		return // nothing to write, and no earlier revision to clear
	}
	if err := p.st.ReplaceTriplets(ctx, j.key.rollout, j.key.attempt, revision, records); err != nil {
		p.buf.retry(j)
		p.fail(ctx, j, "store", err)
		return
	}
	p.telemetry.ProcessorTripletTripletsEmitted.Add(ctx, int64(len(records)))
}

// sameTriplets reports whether the stored triplets are the built ones. The
// JSON parts are compared decoded: a store may keep them re-encoded
// (PostgreSQL's jsonb orders keys).
func sameTriplets(stored, built []model.TripletRecord) bool {
	if len(stored) != len(built) {
		return false
	}
	for i := range stored {
		s, b := stored[i], built[i]
		if s.Index != b.Index || s.SpanID != b.SpanID || !reflect.DeepEqual(s.Triplet.Reward, b.Triplet.Reward) {
			return false
		}
		for _, part := range [][2]json.RawMessage{
			{s.Triplet.Prompt, b.Triplet.Prompt}, {s.Triplet.Response, b.Triplet.Response}, {s.Triplet.Metadata, b.Triplet.Metadata},
		} {
			if !sameJSON(part[0], part[1]) {
				return false
			}
		}
	}
	return true
}

// sameJSON compares two JSON documents by value; absent equals null.
func sameJSON(a, b json.RawMessage) bool {
	var va, vb any
	if len(a) > 0 && json.Unmarshal(a, &va) != nil {
		return false
	}
	if len(b) > 0 && json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// attemptSpans returns the spans the store holds for the job's attempt, the
// first limits.max_spans_per_attempt of them: the cached copies when the
// store holds exactly as many (the common case: this process saw each of
// them committed), else the spans read back.
func (p *tripletProcessor) attemptSpans(ctx context.Context, j job) ([]model.Span, error) {
	q := store.SpanQuery{RolloutID: j.key.rollout, AttemptID: &j.key.attempt, Page: store.Page{Limit: 0}}
	if j.cached {
		counted, err := p.st.QuerySpans(ctx, q)
		if err != nil {
			return nil, err
		}
		if counted.Total == len(j.spans) {
			return j.spans, nil
		}
	}
	q.Page = store.Page{SortOrder: store.SortAsc, Limit: p.cfg.Limits.MaxSpansPerAttempt}
	page, err := p.st.QuerySpans(ctx, q)
	return page.Items, err
}

func (p *tripletProcessor) fail(ctx context.Context, j job, why string, err error) {
	p.telemetry.ProcessorTripletBuildFailures.Add(ctx, 1, reason(why))
	p.logger.Warn("could not produce the triplets of an attempt", zap.String("rollout_id", j.key.rollout),
		zap.String("attempt_id", j.key.attempt), zap.String("stage", why), zap.Error(err))
}

func reason(r string) metric.AddOption {
	return metric.WithAttributes(attribute.String("reason", r))
}
