package recentset

import (
	"strconv"
	"strings"
	"testing"
)

func TestForgetsTheOldest(t *testing.T) {
	s := New[string](2)
	s.Add("a", "b", "a")
	s.Add("c")
	if s.Contains("a") || !s.Contains("b") || !s.Contains("c") {
		t.Fatalf("after a, b, a, c with capacity 2: a=%v b=%v c=%v", s.Contains("a"), s.Contains("b"), s.Contains("c"))
	}
	s.Add("d", "e")
	if s.Contains("b") || s.Contains("c") || !s.Contains("d") || !s.Contains("e") {
		t.Fatal("the ring did not wrap around")
	}
}

// The memory of a set follows the keys it holds: a large capacity is not
// reserved up front, and the ring never grows past it.
func TestGrowsWithItsKeys(t *testing.T) {
	s := New[int](100_000)
	s.Add(1, 2, 3)
	if s.Len() != 3 || len(s.ring) > 16 {
		t.Fatalf("3 keys in a set of capacity 100000: len %d, ring of %d; want 3 and at most 16", s.Len(), len(s.ring))
	}
	small := New[int](40)
	for i := range 100 {
		small.Add(i)
		if len(small.ring) > 40 || len(small.set) > 40 {
			t.Fatalf("after %d keys: ring of %d, map size %d; capacity is 40", i+1, len(small.ring), len(small.set))
		}
	}
	if small.Len() != 40 || small.Contains(59) || !small.Contains(60) || !small.Contains(99) {
		t.Fatalf("after 100 keys with capacity 40: len %d, 59 kept %v, 60 kept %v", small.Len(), small.Contains(59), small.Contains(60))
	}
}

// With a byte budget, large keys push out the oldest ones before the count
// is reached, and a key larger than the budget is not kept.
func TestByteBudget(t *testing.T) {
	s := NewBounded(1000, 100, func(k string) int { return len(k) })
	a, b, c := strings.Repeat("a", 40), strings.Repeat("b", 40), strings.Repeat("c", 40)
	s.Add(a, b)
	if s.Len() != 2 || s.Bytes() != 80 {
		t.Fatalf("two keys of 40 bytes: len %d, bytes %d", s.Len(), s.Bytes())
	}
	s.Add(c)
	if s.Contains(a) || !s.Contains(b) || !s.Contains(c) || s.Bytes() != 80 {
		t.Fatalf("a third key of 40 bytes with a budget of 100: a kept %v, b %v, c %v, bytes %d", s.Contains(a), s.Contains(b), s.Contains(c), s.Bytes())
	}
	s.Add(strings.Repeat("d", 101))
	if s.Len() != 2 || !s.Contains(b) || !s.Contains(c) {
		t.Fatal("a key larger than the budget displaced others")
	}
	s.Add(strings.Repeat("e", 100))
	if s.Len() != 1 || s.Bytes() != 100 || s.Contains(c) {
		t.Fatalf("a key of the whole budget: len %d, bytes %d", s.Len(), s.Bytes())
	}
	for i := range 500 {
		s.Add(strconv.Itoa(i))
		if s.Bytes() > 100 {
			t.Fatalf("after key %d: %d bytes, budget 100", i, s.Bytes())
		}
	}
	if !s.Contains("499") || s.Contains("0") {
		t.Fatal("the newest keys are not the ones kept")
	}
}
