package messagesconnector // import "github.com/otelcol-lightning/otelcol-lightning/connector/messagesconnector"

import "sync"

// callKey identifies an LLM call across spans: two spans of one attempt
// with the same response id record the same call.
type callKey struct {
	rollout, attempt, responseID string
}

// recentKeys remembers the last capacity keys added (first in, first out),
// so memory stays bounded however many calls flow through.
type recentKeys struct {
	mu   sync.Mutex
	set  map[callKey]struct{}
	ring []callKey
	next int
}

func newRecentKeys(capacity int) *recentKeys {
	return &recentKeys{set: make(map[callKey]struct{}, capacity), ring: make([]callKey, 0, capacity)}
}

func (r *recentKeys) contains(k callKey) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.set[k]
	return ok
}

func (r *recentKeys) add(keys ...callKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range keys {
		if _, ok := r.set[k]; ok {
			continue
		}
		if len(r.ring) < cap(r.ring) {
			r.ring = append(r.ring, k)
		} else {
			delete(r.set, r.ring[r.next])
			r.ring[r.next] = k
			r.next = (r.next + 1) % len(r.ring)
		}
		r.set[k] = struct{}{}
	}
}
