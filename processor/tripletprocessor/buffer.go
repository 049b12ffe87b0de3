package tripletprocessor

import (
	"sort"
	"sync"
	"time"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// Completion triggers, reported as the attempts_completed attribute.
const (
	triggerStoreEvent     = "store_event"
	triggerRootSettled    = "root_settled"
	triggerIdle           = "idle"
	triggerMaxDuration    = "max_duration"
	triggerMemoryPressure = "memory_pressure"
	triggerShutdown       = "shutdown"
)

type attemptKey struct{ rollout, attempt string }

// attemptState is the copy of one attempt's spans and where it stands.
type attemptState struct {
	key   attemptKey
	spans []model.Span
	index map[string]int // span id → position, so a resent span replaces its copy
	bytes int            // estimated heap bytes of spans

	first, last time.Time
	rootEnded   bool
	storeEnded  bool
	truncated   bool

	revision    int // revisions emitted so far
	dirty       bool
	completedAt time.Time
}

func (a *attemptState) completed() bool { return a.revision > 0 }

// job is an attempt whose triplets must be built, with a snapshot of its spans.
type job struct {
	key      attemptKey
	spans    []model.Span
	revision int
	trigger  string
	late     bool
}

// buffer keeps the attempts' spans and decides when each is complete. It is
// safe for concurrent use; building happens outside its lock on snapshots.
type buffer struct {
	cfg Config
	now func() time.Time

	mu       sync.Mutex
	attempts map[attemptKey]*attemptState
	spans    map[string]attemptKey // span id → its attempt, for late log events
	total    int                   // spans kept
	bytes    int                   // their estimated heap bytes
}

func newBuffer(cfg Config, now func() time.Time) *buffer {
	return &buffer{cfg: cfg, now: now, attempts: map[attemptKey]*attemptState{}, spans: map[string]attemptKey{}}
}

// add keeps copies of spans; it returns how many did not fit the attempt's
// limit and the change in buffered spans.
func (b *buffer) add(key attemptKey, spans []model.Span) (dropped, delta int) {
	sizes := make([]int, len(spans))
	for i := range spans {
		sizes[i] = spans[i].HeapBytes() // outside the lock: it walks every attribute
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	a := b.attempts[key]
	if a == nil {
		a = &attemptState{key: key, index: map[string]int{}, first: now}
		b.attempts[key] = a
	}
	bytesBefore := a.bytes
	for j, s := range spans {
		if i, ok := a.index[s.SpanID]; ok {
			a.bytes += sizes[j] - a.spans[i].HeapBytes()
			a.spans[i] = s
		} else if len(a.spans) >= b.cfg.Limits.MaxSpansPerAttempt {
			a.truncated = true
			dropped++
			continue
		} else {
			a.index[s.SpanID] = len(a.spans)
			a.spans = append(a.spans, s)
			a.bytes += sizes[j]
			b.spans[s.SpanID] = key
			delta++
		}
		if s.ParentID == nil || *s.ParentID == "" {
			a.rootEnded = true
		}
	}
	a.last = now
	if a.completed() {
		a.dirty = true
	}
	b.total += delta
	b.bytes += a.bytes - bytesBefore
	return dropped, delta
}

// heapBytes is the estimated memory the kept spans hold.
func (b *buffer) heapBytes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bytes
}

// retry marks a completed attempt for another build, after its triplets
// could not be sent downstream.
func (b *buffer) retry(key attemptKey) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if a := b.attempts[key]; a != nil && a.completed() {
		a.dirty = true
	}
}

// markStoreEnded records that the store saw the attempt end.
func (b *buffer) markStoreEnded(key attemptKey) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if a := b.attempts[key]; a != nil {
		a.storeEnded = true
		if a.completed() {
			a.dirty = true
		}
	}
}

// markSpansDirty rebuilds completed attempts whose spans got log events
// after their triplets were built; open attempts pick them up anyway.
func (b *buffer) markSpansDirty(spanIDs []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, id := range spanIDs {
		key, ok := b.spans[id]
		if !ok {
			continue
		}
		if a := b.attempts[key]; a != nil && a.completed() {
			a.dirty = true
			a.last = b.now()
		}
	}
}

// due returns the attempts to build now, forgets retained attempts whose
// retention passed, and relieves memory pressure. freed is the number of
// spans no longer buffered.
func (b *buffer) due(all bool) (jobs []job, freed int, evicted int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	for key, a := range b.attempts {
		if a.completed() && !a.dirty {
			if now.Sub(a.completedAt) >= b.cfg.Completion.Retention {
				freed += b.forget(key)
			}
			continue
		}
		trigger := b.trigger(a, now)
		if all && trigger == "" {
			trigger = triggerShutdown
		}
		if trigger != "" {
			jobs = append(jobs, b.take(a, trigger, now))
		}
	}
	more, f, e := b.relieve(now)
	jobs = append(jobs, more...)
	sort.Slice(jobs, func(i, j int) bool {
		return jobs[i].key.rollout+jobs[i].key.attempt < jobs[j].key.rollout+jobs[j].key.attempt
	})
	return jobs, freed + f, e
}

// trigger names the first completion rule that fires, or "".
func (b *buffer) trigger(a *attemptState, now time.Time) string {
	c := b.cfg.Completion
	quiet := now.Sub(a.last)
	switch {
	case a.storeEnded:
		return triggerStoreEvent
	case a.rootEnded && quiet >= c.Settle:
		return triggerRootSettled
	case quiet >= c.IdleTimeout:
		return triggerIdle
	case now.Sub(a.first) >= c.MaxDuration:
		return triggerMaxDuration
	}
	return ""
}

func (b *buffer) take(a *attemptState, trigger string, now time.Time) job {
	late := a.completed()
	a.revision++
	a.dirty = false
	a.completedAt = now
	return job{key: a.key, spans: append([]model.Span(nil), a.spans...), revision: a.revision, trigger: trigger, late: late}
}

func (b *buffer) forget(key attemptKey) int {
	for _, s := range b.attempts[key].spans {
		delete(b.spans, s.SpanID)
	}
	n := len(b.attempts[key].spans)
	b.bytes -= b.attempts[key].bytes
	delete(b.attempts, key)
	b.total -= n
	return n
}

// overLimit reports whether the buffer holds more than either limit allows.
func (b *buffer) overLimit() bool {
	return b.total > b.cfg.Limits.MaxBufferedSpans || b.bytes > b.cfg.Limits.MaxBufferedMiB<<20
}

// relieve brings the buffer under its limits: first it forgets completed
// attempts (oldest completion first), then it completes the open attempts
// that started first and forgets them.
func (b *buffer) relieve(now time.Time) (jobs []job, freed, evicted int) {
	if !b.overLimit() {
		return nil, 0, 0
	}
	states := make([]*attemptState, 0, len(b.attempts))
	for _, a := range b.attempts {
		states = append(states, a)
	}
	sort.Slice(states, func(i, j int) bool {
		ci, cj := states[i].completed() && !states[i].dirty, states[j].completed() && !states[j].dirty
		if ci != cj {
			return ci
		}
		if ci {
			return states[i].completedAt.Before(states[j].completedAt)
		}
		return states[i].first.Before(states[j].first)
	})
	for _, a := range states {
		if !b.overLimit() {
			break
		}
		if !(a.completed() && !a.dirty) {
			jobs = append(jobs, b.take(a, triggerMemoryPressure, now))
		}
		freed += b.forget(a.key)
		evicted++
	}
	return jobs, freed, evicted
}
