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
