// Package recentset is a bounded set that remembers the most recently added
// keys, first in first out, so components can drop repeats of recent data
// with memory that stays fixed however much flows through.
package recentset

import "sync"

// Set holds at most its capacity keys, and, when it was given a size
// function, at most its byte budget of them; adding more forgets the oldest.
// It is safe for concurrent use.
type Set[K comparable] struct {
	mu       sync.Mutex
	capacity int
	maxBytes int         // 0: no byte budget
	size     func(K) int // nil: no byte budget
	set      map[K]struct{}
	ring     []K // the keys, oldest at head; grown on use up to capacity
	head, n  int
	bytes    int
}

// New returns an empty set of the given capacity (at least 1). Its memory
// grows with the keys it holds, up to capacity: the default capacities are
// sized for the busiest collectors, and reserving them up front cost every
// process tens of MiB it never used (and twice that in GC headroom).
func New[K comparable](capacity int) *Set[K] {
	return &Set[K]{capacity: max(capacity, 1), set: map[K]struct{}{}}
}

// NewBounded is New with a byte budget as well: size estimates what one key
// holds (its strings and the set's own entry). A set whose keys come from
// the data (ids of any length) needs it, as capacity alone bounds their
// number, not their memory. A key larger than the whole budget is not
// remembered.
func NewBounded[K comparable](capacity, maxBytes int, size func(K) int) *Set[K] {
	s := New[K](capacity)
	s.maxBytes, s.size = max(maxBytes, 1), size
	return s
}

// Len is the number of keys remembered.
func (s *Set[K]) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// Bytes is the estimated memory of the keys remembered (0 without a byte
// budget).
func (s *Set[K]) Bytes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
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
		size := 0
		if s.size != nil {
			if size = s.size(k); size > s.maxBytes {
				continue
			}
		}
		for s.n >= s.capacity || (s.size != nil && s.n > 0 && s.bytes+size > s.maxBytes) {
			s.evictOldest()
		}
		if s.n == len(s.ring) {
			s.grow()
		}
		s.ring[(s.head+s.n)%len(s.ring)] = k
		s.n++
		s.bytes += size
		s.set[k] = struct{}{}
	}
}

func (s *Set[K]) evictOldest() {
	var zero K
	k := s.ring[s.head]
	s.ring[s.head] = zero
	s.head = (s.head + 1) % len(s.ring)
	s.n--
	delete(s.set, k)
	if s.size != nil {
		s.bytes -= s.size(k)
	}
}

// grow doubles the ring, never past capacity, keeping the keys in order.
func (s *Set[K]) grow() {
	grown := make([]K, min(max(2*len(s.ring), 16), s.capacity))
	for i := range s.n {
		grown[i] = s.ring[(s.head+i)%len(s.ring)]
	}
	s.ring, s.head = grown, 0
}
