package tripletprocessor

import (
	"encoding/hex"
	"sync"

	"go.opentelemetry.io/collector/component"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/genai"
)

// eventStore keeps GenAI events that arrived on the logs signal (OTel ≤ 1.36
// per-message events, as the official OpenAI instrumentation sends by
// default) until the triplets of their call span are built. The traces and
// logs instances of one processor id share it.
type eventStore struct {
	mu     sync.Mutex
	max    int
	bySpan map[string][]genai.Event
	order  []string // span ids, oldest first, for the bound
	// onEvents is told which spans got events, so that a completed attempt
	// is rebuilt with them.
	onEvents func(spanIDs []string)
}

func (s *eventStore) add(events map[string][]genai.Event) {
	s.mu.Lock()
	ids := make([]string, 0, len(events))
	for id, evs := range events {
		if _, ok := s.bySpan[id]; !ok {
			s.order = append(s.order, id)
		}
		s.bySpan[id] = append(s.bySpan[id], evs...)
		ids = append(ids, id)
	}
	for len(s.order) > s.max {
		delete(s.bySpan, s.order[0])
		s.order = s.order[1:]
	}
	notify := s.onEvents
	s.mu.Unlock()
	if notify != nil {
		notify(ids)
	}
}

func (s *eventStore) get(spanID string) []genai.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bySpan[spanID]
}

func (s *eventStore) setListener(fn func([]string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onEvents = fn
}

// sharedEvents hands the same eventStore to both signal instances of a
// processor id; the last Release frees it.
var sharedEvents = struct {
	sync.Mutex
	m map[component.ID]*sharedEntry
}{m: map[component.ID]*sharedEntry{}}

type sharedEntry struct {
	store *eventStore
	refs  int
}

func acquireEvents(id component.ID, maxSpans int) *eventStore {
	sharedEvents.Lock()
	defer sharedEvents.Unlock()
	e := sharedEvents.m[id]
	if e == nil {
		e = &sharedEntry{store: &eventStore{max: maxSpans, bySpan: map[string][]genai.Event{}}}
		sharedEvents.m[id] = e
	}
	e.refs++
	return e.store
}

func releaseEvents(id component.ID) {
	sharedEvents.Lock()
	defer sharedEvents.Unlock()
	if e := sharedEvents.m[id]; e != nil {
		if e.refs--; e.refs <= 0 {
			delete(sharedEvents.m, id)
		}
	}
}

func spanHex(id [8]byte) string { return hex.EncodeToString(id[:]) }
