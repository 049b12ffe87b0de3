package tripletprocessor

import (
	"encoding/hex"
	"sync"

	"go.opentelemetry.io/collector/component"

	"github.com/otelcol-lightning/otelcol-lightning/internal/sharedref"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/genai"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// eventStore keeps GenAI events that arrived on the logs signal (OTel ≤ 1.36
// per-message events, as the official OpenAI instrumentation sends by
// default) until the triplets of their call span are built. The traces and
// logs instances of one processor id share it.
type eventStore struct {
	mu       sync.Mutex
	max      int // spans with events
	maxBytes int // estimated memory of the events
	bytes    int
	bySpan   map[string][]genai.Event
	sizes    map[string]int // estimated bytes per span id
	order    []string       // span ids, oldest first, for the bounds
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
		n := eventsBytes(evs)
		s.sizes[id] += n
		s.bytes += n
		ids = append(ids, id)
	}
	// The oldest go first; the events just added are the last to go, so
	// one batch larger than the bound still reaches its spans' triplets.
	for len(s.order) > 1 && (len(s.order) > s.max || s.bytes > s.maxBytes) {
		oldest := s.order[0]
		s.bytes -= s.sizes[oldest]
		delete(s.sizes, oldest)
		delete(s.bySpan, oldest)
		s.order = s.order[1:]
	}
	notify := s.onEvents
	s.mu.Unlock()
	if notify != nil {
		notify(ids)
	}
}

// eventsBytes estimates the memory of converted log events.
func eventsBytes(evs []genai.Event) int {
	n := 0
	for _, e := range evs {
		n += 64 + len(e.Name) + model.Attributes(e.Attributes).HeapBytes() + model.ValueHeapBytes(e.Body)
	}
	return n
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
// processor id; the last release frees it.
var sharedEvents sharedref.Registry[*eventStore]

func acquireEvents(id component.ID, limits LimitsConfig) *eventStore {
	return sharedEvents.Acquire(id, func() *eventStore {
		return &eventStore{
			max: limits.MaxBufferedSpans, maxBytes: limits.MaxBufferedMiB << 20,
			bySpan: map[string][]genai.Event{}, sizes: map[string]int{},
		}
	})
}

func releaseEvents(id component.ID) { sharedEvents.Release(id) }

func spanHex(id [8]byte) string { return hex.EncodeToString(id[:]) }
