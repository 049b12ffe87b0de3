package store

import (
	"sync"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// AttemptEvent tells that an attempt's status was set, by a client or by
// the watchdog.
type AttemptEvent struct {
	RolloutID string
	AttemptID string
	Status    model.AttemptStatus
}

// AttemptNotifier is implemented by stores that can report attempt status
// changes in-process (Core does, for changes made through it). The triplet
// processor uses it to build an attempt's triplets as soon as it ends.
type AttemptNotifier interface {
	// SubscribeAttempts calls fn after each committed status change; fn must
	// not block. The returned function unsubscribes.
	SubscribeAttempts(fn func(AttemptEvent)) (unsubscribe func())
}

// SpanNotifier is implemented by stores that report the spans they commit,
// whatever the door: an OTLP batch (IngestSpans) or the API (AddSpan,
// AddSpans, such as the reward span an Agent Lightning runner adds over
// REST). The triplet processor follows an attempt's spans this way.
type SpanNotifier interface {
	// SubscribeSpans calls fn with the spans each call stored, after commit
	// and before the call returns; fn must not block. The returned function
	// unsubscribes.
	SubscribeSpans(fn func([]model.Span)) (unsubscribe func())
}

var (
	_ AttemptNotifier = (*Core)(nil)
	_ SpanNotifier    = (*Core)(nil)
)

type subscribers struct {
	mu    sync.RWMutex
	next  int
	fns   map[int]func(AttemptEvent)
	spans map[int]func([]model.Span)
}

// SubscribeAttempts registers fn for attempt status changes.
func (c *Core) SubscribeAttempts(fn func(AttemptEvent)) func() {
	s := &c.subs
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fns == nil {
		s.fns = map[int]func(AttemptEvent){}
	}
	id := s.next
	s.next++
	s.fns[id] = fn
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.fns, id)
	}
}

func (c *Core) publish(events ...AttemptEvent) {
	s := &c.subs
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range events {
		for _, fn := range s.fns {
			fn(e)
		}
	}
}

// SubscribeSpans registers fn for the spans every ingest or add stores.
func (c *Core) SubscribeSpans(fn func([]model.Span)) func() {
	s := &c.subs
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.spans == nil {
		s.spans = map[int]func([]model.Span){}
	}
	id := s.next
	s.next++
	s.spans[id] = fn
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.spans, id)
	}
}

func (c *Core) publishSpans(spans []model.Span) {
	if len(spans) == 0 {
		return
	}
	s := &c.subs
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, fn := range s.spans {
		fn(spans)
	}
}
