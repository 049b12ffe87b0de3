package recentset

import "testing"

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
	if s.Len() != 3 || cap(s.ring) > 16 {
		t.Fatalf("3 keys in a set of capacity 100000: len %d, ring capacity %d; want 3 and at most 16", s.Len(), cap(s.ring))
	}
	small := New[int](40)
	for i := range 100 {
		small.Add(i)
		if cap(small.ring) > 40 || len(small.set) > 40 {
			t.Fatalf("after %d keys: ring capacity %d, map size %d; capacity is 40", i+1, cap(small.ring), len(small.set))
		}
	}
	if small.Len() != 40 || small.Contains(59) || !small.Contains(60) || !small.Contains(99) {
		t.Fatalf("after 100 keys with capacity 40: len %d, 59 kept %v, 60 kept %v", small.Len(), small.Contains(59), small.Contains(60))
	}
}
