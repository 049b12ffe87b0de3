// Package recentset is a bounded set that remembers the most recently added
// keys, first in first out, so components can drop repeats of recent data
// with memory that stays fixed however much flows through.
package recentset

import "sync"

// Set holds at most its capacity keys; adding more forgets the oldest. It is
// safe for concurrent use.
type Set[K comparable] struct {
	mu   sync.Mutex
	set  map[K]struct{}
	ring []K
	next int
}

// New returns an empty set of the given capacity (at least 1).
func New[K comparable](capacity int) *Set[K] {
	capacity = max(capacity, 1)
	return &Set[K]{set: make(map[K]struct{}, capacity), ring: make([]K, 0, capacity)}
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
		if len(s.ring) < cap(s.ring) {
			s.ring = append(s.ring, k)
		} else {
			delete(s.set, s.ring[s.next])
			s.ring[s.next] = k
			s.next = (s.next + 1) % len(s.ring)
		}
		s.set[k] = struct{}{}
	}
}
