package tripletprocessor

import (
	"sort"
	"sync"
	"time"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// Completion triggers, reported as the attempts_completed attribute.
const (
	triggerStoreEvent = "store_event"
	// triggerStoreEventUnfollowed: the store reported the end of an attempt
	// the processor holds no state for (its spans were committed before a
	// restart, or its state was forgotten); it is built from the store.
	triggerStoreEventUnfollowed = "store_event_unfollowed"
	triggerRootSettled          = "root_settled"
	triggerIdle                 = "idle"
	triggerMaxDuration          = "max_duration"
	triggerMemoryPressure       = "memory_pressure"
	triggerShutdown             = "shutdown"
)

type attemptKey struct{ rollout, attempt string }

// attemptState is where one attempt stands, with the ids of its spans and,
// while they fit, copies of them.
type attemptState struct {
	key attemptKey
	// ids of the spans noted, for the late log events (b.spans) and the
	// count; the store publishes each span once, so a slice is enough.
	ids   []string
	bytes int // estimated memory: state, ids and copies

	// spans caches copies of the committed spans, so that building rarely
	// has to read them back; uncached is set once a copy did not fit
	// max_buffered_mib, and copyBytes is what the copies weigh.
	spans     []model.Span
	uncached  bool
	copyBytes int

	first, last time.Time
	rootEnded   bool
	storeEnded  bool
	truncated   bool
	checked     bool // the store was asked whether the attempt already ended

	revision    int // builds so far
	dirty       bool
	completedAt time.Time
}

func (a *attemptState) completed() bool { return a.revision > 0 }

// job is an attempt whose triplets must be built.
type job struct {
	key     attemptKey
	trigger string
	late    bool
	// spans are copies of every span this process saw stored for the
	// attempt when cached is set; they are used when the store holds no
	// other (attemptSpans).
	spans  []model.Span
	cached bool
	// unfollowed: the processor held no state for the attempt when the
	// store reported its end. Triplets may already be stored (built before
	// a restart, or before the state was forgotten): they are replaced only
	// if the build differs (processor.complete).
	unfollowed bool
}

// buffer follows the attempts whose spans the store committed and decides
// when each is complete. It is safe for concurrent use; building happens
// outside its lock.
//
// What it must keep is each open attempt's state and its span ids (for late
// GenAI log events), about stateBytes and spanRefBytes: the spans themselves
// are in the store. Copies of them are a cache, kept while they fit
// max_buffered_mib: a full cache stops caching and the attempt is read back
// when built; it never completes an attempt early. Only max_buffered_spans
// span ids do, oldest attempts first.
type buffer struct {
	cfg Config
	now func() time.Time

	mu       sync.Mutex
	attempts map[attemptKey]*attemptState
	spans    map[string]attemptKey // span id → its attempt, for late log events
	total    int                   // span ids kept
	bytes    int                   // estimated memory of everything kept
	pending  []job                 // attempts completed early, built on the next tick
	// unfollowed are the ended attempts the buffer held no state for, built
	// from the store on the next tick; at most max_buffered_spans of them
	// wait (an entry is about as large as a span id's).
	unfollowed map[attemptKey]struct{}
}

// Estimated memory of the state of one attempt and of one span's entry.
const (
	stateBytes   = 256
	spanRefBytes = 80
)

func newBuffer(cfg Config, now func() time.Time) *buffer {
	return &buffer{cfg: cfg, now: now, attempts: map[attemptKey]*attemptState{}, spans: map[string]attemptKey{},
		unfollowed: map[attemptKey]struct{}{}}
}

// addResult says what add did with the spans it was given.
type addResult struct {
	added       int // span ids now kept
	overAttempt int // not followed: the attempt has max_spans_per_attempt
	overBuffer  int // not followed: max_buffered_spans is reached even after making room
	freed       int // span ids forgotten to make room
	evicted     int // attempts completed early to make room
}

// add notes spans the store committed. The store publishes each span once
// (it does not store duplicates), so there is nothing to replace.
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
		a = &attemptState{key: key, first: now}
		b.attempts[key] = a
		b.bytes += stateBytes
		a.bytes += stateBytes
	}
	for j, s := range spans {
		if s.ParentID == nil || *s.ParentID == "" {
			a.rootEnded = true
		}
		b.note(a, s, sizes[j], now, &res)
	}
	a.last = now
	if a.completed() {
		a.dirty = true
	}
	return res
}

// note records one stored span: its id always (bounded by
// max_buffered_spans, completing the oldest other attempts early to make
// room), its copy while the copies fit max_buffered_mib.
func (b *buffer) note(a *attemptState, s model.Span, size int, now time.Time, res *addResult) {
	if len(a.ids) >= b.cfg.Limits.MaxSpansPerAttempt {
		a.truncated = true
		res.overAttempt++
		return
	}
	full := func() bool { return b.total+1 > b.cfg.Limits.MaxBufferedSpans }
	if full() {
		freed, evicted := b.evict(now, a.key, full)
		res.freed += freed
		res.evicted += evicted
		if full() {
			// The attempt is still built from everything the store holds.
			res.overBuffer++
			return
		}
	}
	a.ids = append(a.ids, s.SpanID)
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

// dropCopies forgets an attempt's span copies.
func (b *buffer) dropCopies(a *attemptState) {
	a.bytes -= a.copyBytes
	b.bytes -= a.copyBytes
	a.copyBytes = 0
	a.spans = nil
}

// heapBytes is the estimated memory the buffer holds.
func (b *buffer) heapBytes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bytes
}

// retry marks a completed attempt for another build, after its triplets
// could not be read or written; an unfollowed attempt the buffer still holds
// no state for is queued again.
func (b *buffer) retry(j job) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if a := b.attempts[j.key]; a != nil {
		if a.completed() {
			a.dirty = true
		}
		return
	}
	if j.unfollowed {
		b.queueUnfollowed(j.key)
	}
}

// markStoreEnded records that the store saw the attempt end. An attempt the
// buffer holds no state for — its spans were committed before a restart, or
// its state was forgotten after retention or an eviction — is queued to be
// built from the store; without this a runner marking its attempt succeeded
// after a restart would leave it without triplets. It returns false when
// that queue is full.
func (b *buffer) markStoreEnded(key attemptKey) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if a := b.attempts[key]; a != nil {
		a.storeEnded = true
		if a.completed() {
			a.dirty = true
		}
		return true
	}
	return b.queueUnfollowed(key)
}

func (b *buffer) queueUnfollowed(key attemptKey) bool {
	if _, ok := b.unfollowed[key]; ok {
		return true
	}
	if len(b.unfollowed) >= b.cfg.Limits.MaxBufferedSpans {
		return false
	}
	b.unfollowed[key] = struct{}{}
	return true
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

// due returns the attempts to build now (with those completed early since
// the last call), forgets completed attempts whose retention passed, and
// brings the buffer under its high-water mark. freed is the number of span
// ids no longer kept. checks lists the open attempts, quiet for a settle
// period with no root span seen, whose status in the store must be read
// once: spans arriving after their attempt ended (after a restart, or once
// its state was forgotten) rebuild it without waiting for the idle timeout.
func (b *buffer) due(all bool) (jobs []job, freed int, evicted int, checks []attemptKey) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	jobs, b.pending = b.pending, nil
	var unfollowed []job
	for key := range b.unfollowed {
		delete(b.unfollowed, key)
		if a := b.attempts[key]; a != nil {
			// Spans arrived since the event: the attempt's state completes it
			// (from the store, as it holds more spans than were cached).
			a.storeEnded = true
			if a.completed() {
				a.dirty = true
			}
			continue
		}
		unfollowed = append(unfollowed, job{key: key, trigger: triggerStoreEventUnfollowed, unfollowed: true})
	}
	for key, a := range b.attempts {
		if a.completed() && !a.dirty {
			if now.Sub(a.completedAt) >= b.cfg.Completion.Retention {
				freed += b.forget(key)
			}
			continue
		}
		trigger := b.trigger(a, now)
		if trigger == "" && !a.completed() && !a.checked && !a.rootEnded && now.Sub(a.last) >= b.cfg.Completion.Settle {
			a.checked = true
			checks = append(checks, key)
		}
		if all && trigger == "" {
			trigger = triggerShutdown
		}
		if trigger != "" {
			jobs = append(jobs, b.take(a, trigger, now))
			b.compact(a)
		}
	}
	f, e := b.evict(now, attemptKey{}, b.overLimit)
	jobs = append(jobs, b.pending...)
	b.pending = nil
	// An attempt is built once per tick: an evicted state's job covers the
	// unfollowed one.
	built := make(map[attemptKey]bool, len(jobs))
	for _, j := range jobs {
		built[j.key] = true
	}
	for _, j := range unfollowed {
		if !built[j.key] {
			jobs = append(jobs, j)
		}
	}
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
	j := job{key: a.key, trigger: trigger, late: a.completed(), spans: a.spans}
	// After a build the copies are gone but the ids stay: the next build of
	// the attempt reads the store.
	j.cached = !a.uncached && !a.completed() && len(a.spans) == len(a.ids)
	a.revision++
	a.dirty = false
	a.completedAt = now
	return j
}

// compact drops what the buffer no longer needs once an attempt is built:
// its span copies. Its state and span ids stay until retention ends, so that
// a late span, or a GenAI log event for one of its calls, rebuilds it at
// once (from the store, which then holds more spans than the late ones
// cached).
func (b *buffer) compact(a *attemptState) {
	b.dropCopies(a)
	a.uncached = false
}

// forget drops an attempt; it returns the span ids freed.
func (b *buffer) forget(key attemptKey) int {
	a := b.attempts[key]
	for _, id := range a.ids {
		delete(b.spans, id)
	}
	n := len(a.ids)
	b.total -= n
	b.bytes -= a.bytes
	delete(b.attempts, key)
	return n
}

// overLimit reports whether the buffer holds more span ids than its
// high-water mark, 90% of max_buffered_spans: the tick makes room before
// add has to.
func (b *buffer) overLimit() bool {
	return b.total*10 > b.cfg.Limits.MaxBufferedSpans*9
}

// evict forgets attempts while want says so: first completed ones (oldest
// completion first), then open ones (oldest first), which are completed
// early and built on the next tick. keep is never evicted (the attempt
// being added to).
func (b *buffer) evict(now time.Time, keep attemptKey, want func() bool) (freed, evicted int) {
	if !want() {
		return 0, 0
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
			b.pending = append(b.pending, b.take(a, triggerMemoryPressure, now))
		}
		freed += b.forget(a.key)
		evicted++
	}
	return freed, evicted
}
