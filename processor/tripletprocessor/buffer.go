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
	bytes int            // estimated heap bytes of spans (and, with a store, of the state)

	// With a store, spans holds copies only as a cache of what the store
	// has; uncached is set once a copy did not fit the byte limit, and
	// copyBytes is what the copies weigh.
	uncached  bool
	copyBytes int

	first, last time.Time
	rootEnded   bool
	storeEnded  bool
	truncated   bool
	checked     bool // the store was asked whether the attempt already ended

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
	// cached: with a store, spans are copies of every span this process saw
	// stored for the attempt; they are used when the store holds no other.
	cached bool
}

// buffer keeps the attempts' spans and decides when each is complete. It is
// safe for concurrent use; building happens outside its lock on snapshots.
//
// With a store (fromStore), the state of each open attempt and its span ids
// (for late GenAI log events) are what it must keep, about stateBytes and
// spanRefBytes; copies of the spans are only a cache, kept while they fit
// max_buffered_mib, that spares reading the attempt back from the store
// when it is built. A full cache stops caching; it never completes an
// attempt early.
type buffer struct {
	cfg       Config
	now       func() time.Time
	fromStore bool

	mu       sync.Mutex
	attempts map[attemptKey]*attemptState
	spans    map[string]attemptKey // span id → its attempt, for late log events
	total    int                   // spans kept
	bytes    int                   // their estimated heap bytes
}

// Estimated memory of the state of one attempt and of one span's entry
// when the spans themselves stay in the store.
const (
	stateBytes   = 256
	spanRefBytes = 96
)

func newBuffer(cfg Config, now func() time.Time, fromStore bool) *buffer {
	return &buffer{cfg: cfg, now: now, fromStore: fromStore, attempts: map[attemptKey]*attemptState{}, spans: map[string]attemptKey{}}
}

// addResult says what add did with the spans it was given.
type addResult struct {
	added       int // spans now buffered that were not before
	overAttempt int // not kept: the attempt holds max_spans_per_attempt
	overBuffer  int // not kept: this attempt alone fills the buffer (memory pressure)

	// Attempts completed early to make room: their triplets must be built.
	jobs           []job
	freed, evicted int
}

// add keeps copies of spans (or, with a store, notes them). A span that
// would take the buffer over either limit first makes room: the oldest
// other attempts are completed early (returned as jobs). Only a span that
// does not fit even then (one attempt as large as the buffer) is not kept,
// and counted; its attempt is built from what it has.
func (b *buffer) add(key attemptKey, spans []model.Span) addResult {
	sizes := make([]int, len(spans))
	for i := range spans {
		sizes[i] = spans[i].HeapBytes() // outside the lock: it walks every attribute
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var res addResult
	now := b.now()
	a := b.attempts[key]
	if a == nil {
		a = &attemptState{key: key, index: map[string]int{}, first: now}
		b.attempts[key] = a
		b.bytes += stateBytes
		a.bytes += stateBytes
	}
	for j, s := range spans {
		if s.ParentID == nil || *s.ParentID == "" {
			a.rootEnded = true
		}
		if b.fromStore {
			// The store publishes each span once (duplicates are not
			// stored), so there is nothing to replace.
			b.note(a, s, sizes[j], now, &res)
			continue
		}
		if i, ok := a.index[s.SpanID]; ok {
			delta := sizes[j] - a.spans[i].HeapBytes()
			a.bytes += delta
			b.bytes += delta
			a.spans[i] = s
			continue
		}
		switch {
		case len(a.index) >= b.cfg.Limits.MaxSpansPerAttempt:
			a.truncated = true
			res.overAttempt++
			continue
		case !b.fits(sizes[j]):
			// Make room now, before the limit is crossed: other attempts
			// are completed early (the caller builds res.jobs).
			b.makeRoom(now, a.key, func() bool { return !b.fits(sizes[j]) }, &res)
			if !b.fits(sizes[j]) {
				a.truncated = true
				res.overBuffer++
				continue
			}
		}
		a.index[s.SpanID] = len(a.index)
		a.spans = append(a.spans, s)
		a.bytes += sizes[j]
		b.bytes += sizes[j]
		b.spans[s.SpanID] = key
		b.total++
		res.added++
	}
	a.last = now
	if a.completed() {
		a.dirty = true
	}
	return res
}

// note records a stored span in a store-backed buffer: its id always
// (bounded by max_buffered_spans, making room as add does), its copy while
// the copies fit max_buffered_mib.
func (b *buffer) note(a *attemptState, s model.Span, size int, now time.Time, res *addResult) {
	if len(a.index) >= b.cfg.Limits.MaxSpansPerAttempt {
		a.truncated = true
		res.overAttempt++
		return
	}
	spansFull := func() bool { return b.total+1 > b.cfg.Limits.MaxBufferedSpans }
	if spansFull() {
		b.makeRoom(now, a.key, spansFull, res)
		if spansFull() {
			// The attempt is still built from the store, with every span.
			res.overBuffer++
			return
		}
	}
	a.index[s.SpanID] = len(a.index)
	a.bytes += spanRefBytes
	b.bytes += spanRefBytes
	b.spans[s.SpanID] = a.key
	b.total++
	res.added++
	if a.uncached {
		return
	}
	if b.bytes+size > b.cfg.Limits.MaxBufferedMiB<<20 {
		b.dropCopies(a)
		a.uncached = true
		return
	}
	a.spans = append(a.spans, s)
	a.copyBytes += size
	a.bytes += size
	b.bytes += size
}

// dropCopies forgets a store-backed attempt's span copies.
func (b *buffer) dropCopies(a *attemptState) {
	a.bytes -= a.copyBytes
	b.bytes -= a.copyBytes
	a.copyBytes = 0
	a.spans = nil
}

// makeRoom completes other attempts early while want says so; add's
// caller builds the jobs.
func (b *buffer) makeRoom(now time.Time, keep attemptKey, want func() bool, res *addResult) {
	jobs, freed, evicted := b.evict(now, keep, want)
	res.jobs = append(res.jobs, jobs...)
	res.freed += freed
	res.evicted += evicted
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
// spans no longer buffered. With a store, checks lists the open attempts,
// quiet for a settle period with no root span seen, whose status in the
// store must be read once: spans arriving after the attempt ended (after a
// restart or once its state was forgotten) rebuild it without waiting for
// the idle timeout.
func (b *buffer) due(all bool) (jobs []job, freed int, evicted int, checks []attemptKey) {
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
		if b.fromStore && trigger == "" && !a.completed() && !a.checked && !a.rootEnded && now.Sub(a.last) >= b.cfg.Completion.Settle {
			a.checked = true
			checks = append(checks, key)
		}
		if all && trigger == "" {
			trigger = triggerShutdown
		}
		if trigger != "" {
			jobs = append(jobs, b.take(a, trigger, now))
			freed += b.compact(a)
		}
	}
	more, f, e := b.relieve(now)
	jobs = append(jobs, more...)
	sort.Slice(jobs, func(i, j int) bool {
		return jobs[i].key.rollout+jobs[i].key.attempt < jobs[j].key.rollout+jobs[j].key.attempt
	})
	return jobs, freed + f, e, checks
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
	j := job{key: a.key, spans: append([]model.Span(nil), a.spans...), revision: a.revision, trigger: trigger, late: late}
	j.cached = b.fromStore && !a.uncached && len(a.spans) == len(a.index)
	return j
}

// compact drops what a store-backed buffer no longer needs once an attempt
// is built: its span ids and copies. What remains until retention ends is
// its state, so that a late span rebuilds it at once (from the store, which
// then holds more spans than the late ones cached). It returns the spans
// freed.
func (b *buffer) compact(a *attemptState) int {
	if !b.fromStore {
		return 0
	}
	b.dropCopies(a)
	a.uncached = false
	n := len(a.index)
	for id := range a.index {
		delete(b.spans, id)
	}
	a.index = map[string]int{}
	b.total -= n
	b.bytes -= n * spanRefBytes
	a.bytes -= n * spanRefBytes
	return n
}

func (b *buffer) forget(key attemptKey) int {
	a := b.attempts[key]
	for id := range a.index {
		delete(b.spans, id)
	}
	n := len(a.index)
	b.bytes -= a.bytes
	delete(b.attempts, key)
	b.total -= n
	return n
}

// overLimit reports whether the buffer holds more than its high-water
// mark, 90% of either limit: the tick makes room before add has to.
func (b *buffer) overLimit() bool {
	return b.total*10 > b.cfg.Limits.MaxBufferedSpans*9 || b.bytes*10 > (b.cfg.Limits.MaxBufferedMiB<<20)*9
}

// fits reports whether one more span of size bytes stays within the limits.
func (b *buffer) fits(size int) bool {
	return b.total+1 <= b.cfg.Limits.MaxBufferedSpans && b.bytes+size <= b.cfg.Limits.MaxBufferedMiB<<20
}

// relieve brings the buffer under its high-water mark.
func (b *buffer) relieve(now time.Time) (jobs []job, freed, evicted int) {
	return b.evict(now, attemptKey{}, b.overLimit)
}

// evict forgets attempts while more room is wanted: first completed ones
// (oldest completion first), then open ones (oldest first), which are
// completed early with what they have. keep is never evicted (the attempt
// being added to).
func (b *buffer) evict(now time.Time, keep attemptKey, want func() bool) (jobs []job, freed, evicted int) {
	if !want() {
		return nil, 0, 0
	}
	states := make([]*attemptState, 0, len(b.attempts))
	for k, a := range b.attempts {
		if k != keep {
			states = append(states, a)
		}
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
		if !want() {
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
