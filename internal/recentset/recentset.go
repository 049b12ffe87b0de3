// Package recentset is a bounded set that remembers the most recently added
// keys, first in first out, so components can drop repeats of recent data
// with memory that stays fixed however much flows through.
package recentset

import "sync"

// Set holds at most its capacity keys; adding more forgets the oldest. It is
// safe for concurrent use.
type Set[K comparable] struct {
	mu       sync.Mutex
	capacity int
	set      map[K]struct{}
	ring     []K
	next     int
}

// New returns an empty set of the given capacity (at least 1). Its memory
// grows with the keys it holds, up to capacity: the default capacities are
// sized for the busiest collectors, and reserving them up front cost every
// process tens of MiB it never used (and twice that in GC headroom).
func New[K comparable](capacity int) *Set[K] {
	return &Set[K]{capacity: max(capacity, 1), set: map[K]struct{}{}}
}

// Len is the number of keys remembered.
func (s *Set[K]) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ring)
}

// Contains reports whether k is among the remembered keys.
func (s *Set[K]) Contains(k K) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.set[k]
	return ok
}

// Add remembers keys; one already present keeps its place.
func (s *Set[K]) Add(keys ...K) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		if _, ok := s.set[k]; ok {
			continue
		}
		if len(s.ring) < s.capacity {
			if len(s.ring) == cap(s.ring) {
				// Double, but never past capacity.
				grown := make([]K, len(s.ring), min(max(2*cap(s.ring), 16), s.capacity))
				copy(grown, s.ring)
				s.ring = grown
			}
			s.ring = append(s.ring, k)
		} else {
			delete(s.set, s.ring[s.next])
			s.ring[s.next] = k
			s.next = (s.next + 1) % len(s.ring)
		}
		s.set[k] = struct{}{}
	}
}
