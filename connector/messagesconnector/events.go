package messagesconnector // import "github.com/otelcol-lightning/otelcol-lightning/connector/messagesconnector"

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/internal/recentset"
	"github.com/otelcol-lightning/otelcol-lightning/internal/sharedref"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/genai"
)

// Bounds of the join between call spans and their GenAI log events. Past
// them the oldest entries go: a call whose events are dropped is counted as
// no_content, like a call whose events never come.
const (
	maxEventSpans   = 16384 // spans with events waiting for their call
	maxPendingCalls = 16384 // calls waiting for their events
)

// joiner pairs the LLM calls whose spans carry no content with the GenAI
// events that carry it on the logs signal (the official OpenAI
// instrumentation's default mode, and its event_only mode: gen_ai.user.message,
// gen_ai.choice, gen_ai.client.inference.operation.details). The traces and
// logs instances of one connector id share it. Spans and log records come
// in separate requests in either order, so each side waits for the other
// up to wait: a content-less call for its events, events for their call.
// The parse with the events is the same genai.Parse the triplet processor
// runs, so both see the same call.
type joiner struct {
	wait time.Duration
	now  func() time.Time

	mu      sync.Mutex
	events  map[pcommon.SpanID]*waitingEvents
	pending map[pcommon.SpanID]*pendingCall
	logs    int // logs→logs instances attached; without one nothing waits
}

type waitingEvents struct {
	events []genai.Event
	until  time.Time
}

// pendingCall is a content-less call with a copy of its span and resource,
// which outlive the request that brought them.
type pendingCall struct {
	td    ptrace.Traces // one ResourceSpans, one span: the call's
	call  *call
	until time.Time
}

func newJoiner(wait time.Duration) *joiner {
	return &joiner{
		wait: wait, now: time.Now,
		events:  map[pcommon.SpanID]*waitingEvents{},
		pending: map[pcommon.SpanID]*pendingCall{},
	}
}

// active reports whether content-less calls should wait for events: only
// when a logs pipeline feeds the connector.
func (j *joiner) active() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.logs > 0 && j.wait > 0
}

// eventsOf returns the events already known for a span.
func (j *joiner) eventsOf(id pcommon.SpanID) []genai.Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	if w := j.events[id]; w != nil {
		return w.events
	}
	return nil
}

// hold parks a content-less call until its events arrive or wait passes.
// It reports false when the call cannot wait (bounds).
func (j *joiner) hold(cl *call, res pcommon.Resource) bool {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	res.CopyTo(rs.Resource())
	span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	cl.span.CopyTo(span)
	held := *cl
	held.span, held.resource = span, 0
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.pending) >= maxPendingCalls {
		return false
	}
	j.pending[span.SpanID()] = &pendingCall{td: td, call: &held, until: j.now().Add(j.wait)}
	return true
}

// addEvents records events and returns the held calls they complete.
func (j *joiner) addEvents(bySpan map[pcommon.SpanID][]genai.Event) []*pendingCall {
	until := j.now().Add(j.wait)
	j.mu.Lock()
	defer j.mu.Unlock()
	var woken []*pendingCall
	for id, evs := range bySpan {
		w := j.events[id]
		if w == nil {
			if len(j.events) >= maxEventSpans {
				j.evictOldestEventsLocked()
			}
			w = &waitingEvents{}
			j.events[id] = w
		}
		w.events = append(w.events, evs...)
		w.until = until
		if p := j.pending[id]; p != nil {
			woken = append(woken, p)
		}
	}
	return woken
}

func (j *joiner) evictOldestEventsLocked() {
	var oldest pcommon.SpanID
	var at time.Time
	for id, w := range j.events {
		if at.IsZero() || w.until.Before(at) {
			oldest, at = id, w.until
		}
	}
	delete(j.events, oldest)
}

// release forgets a held call and its events once its record is out.
func (j *joiner) release(id pcommon.SpanID) {
	j.mu.Lock()
	defer j.mu.Unlock()
	delete(j.pending, id)
	delete(j.events, id)
}

// takeAll removes and returns every held call.
func (j *joiner) takeAll() []*pendingCall {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]*pendingCall, 0, len(j.pending))
	for id, p := range j.pending {
		out = append(out, p)
		delete(j.pending, id)
	}
	return out
}

// expired removes and returns the held calls whose wait is over, and drops
// events nobody claimed in time.
func (j *joiner) expired() []*pendingCall {
	now := j.now()
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []*pendingCall
	for id, p := range j.pending {
		if !now.Before(p.until) {
			out = append(out, p)
			delete(j.pending, id)
		}
	}
	for id, w := range j.events {
		if _, waiting := j.pending[id]; !waiting && !now.Before(w.until) {
			delete(j.events, id)
		}
	}
	return out
}

// shared is what the traces and logs instances of one connector id hold
// together: the join, and the cross-batch dedup of the calls they emit (a
// call emitted by the logs side, once its events came, is a duplicate when
// another span of it reaches the traces side; one set also keeps one copy
// of its memory per id, not one per instance).
type shared struct {
	join *joiner
	seen *recentset.Set[callKey] // nil when the cross-batch dedup is off
}

var sharedState sharedref.Registry[*shared]

func acquireShared(id component.ID, cfg *Config, logsSide bool) *shared {
	sh := sharedState.Acquire(id, func() *shared {
		sh := &shared{join: newJoiner(cfg.LogEventsWait)}
		if cfg.DedupCacheSize > 0 {
			// Bounded in bytes as well: the ids come from the spans and may
			// be of any length.
			sh.seen = recentset.NewBounded(cfg.DedupCacheSize, cfg.DedupCacheSize*callKeyBytes, callKey.keyBytes)
		}
		return sh
	})
	if logsSide {
		sh.join.mu.Lock()
		sh.join.logs++
		sh.join.mu.Unlock()
	}
	return sh
}

func releaseShared(id component.ID, sh *shared, logsSide bool) {
	if logsSide {
		sh.join.mu.Lock()
		sh.join.logs--
		sh.join.mu.Unlock()
	}
	sharedState.Release(id)
}

// complete reports whether a call has what a chat record needs: the prompt
// and the model's answer. A call with part of it waits for more events.
func complete(c *genai.Call) bool {
	return len(c.Messages) > 0 && len(c.Choices) > 0
}

// claim takes a held call out of the join; false when another path (the
// sweeper, or events arriving together) took it first.
func (j *joiner) claim(id pcommon.SpanID) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.pending[id]; !ok {
		return false
	}
	delete(j.pending, id)
	return true
}

// emitHeld writes the records of held calls that the events complete (or,
// once their wait is over, that have any content) and counts the others as
// no_content. The logs side calls it when events arrive (claimed false: the
// calls are still held), the sweeper when the wait is over (claimed true).
func (c *messagesConnector) emitHeld(ctx context.Context, held []*pendingCall, claimed bool) error {
	// In call order, so that records are numbered as their calls ran.
	slices.SortStableFunc(held, func(a, b *pendingCall) int {
		return cmp.Compare(a.call.span.StartTimestamp(), b.call.span.StartTimestamp())
	})
	noContent := 0
	var firstErr error
	for _, p := range held {
		id := p.call.span.SpanID()
		rs := p.td.ResourceSpans().At(0)
		opts := append(append([]genai.Option(nil), c.parseOpts...), genai.WithLogEvents(c.join.eventsOf(id)))
		parsed, _ := genai.Parse(p.call.span, rs.Resource(), opts...)
		// Once the wait is over, a call goes out with what it has, or,
		// without content, only when skip_empty is off.
		ready := complete(parsed) || (claimed && (parsed.HasContent() || !c.cfg.SkipEmpty))
		if !ready {
			if claimed {
				noContent++
				c.join.release(id)
			}
			continue
		}
		if !claimed && !c.join.claim(id) {
			continue
		}
		cl := *p.call
		cl.parsed = parsed
		if err := c.emitCall(ctx, p.td, &cl); err != nil && firstErr == nil {
			firstErr = err
		}
		c.join.release(id)
	}
	if noContent > 0 {
		c.recordSkips(ctx, map[string]int{reasonNoContent: noContent})
	}
	return firstErr
}

// emitCall writes the record of one call, after the cross-batch dedup.
func (c *messagesConnector) emitCall(ctx context.Context, td ptrace.Traces, cl *call) error {
	b := &batch{td: td, calls: []*call{cl}, skipped: map[string]int{}}
	c.dedup(b)
	var ld plog.Logs
	if len(b.calls) > 0 {
		ld = c.build(b)
	}
	c.recordSkips(ctx, b.skipped)
	return c.deliver(ctx, b, ld)
}

// sweep emits or drops the held calls whose wait is over.
func (c *messagesConnector) sweep(ctx context.Context) {
	if held := c.join.expired(); len(held) > 0 {
		if err := c.emitHeld(ctx, held, true); err != nil {
			c.logger.Warn("Cannot emit chat records of calls joined with their log events", zap.Error(err))
		}
	}
}

// logsConnector is the logs→logs side: it takes GenAI log events, and
// emits the records of the calls they complete.
type logsConnector struct {
	*messagesConnector
}

func (l *logsConnector) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	bySpan := genai.EventsBySpan(ld)
	if len(bySpan) == 0 {
		return nil
	}
	return l.emitHeld(ctx, l.join.addEvents(bySpan), false)
}
