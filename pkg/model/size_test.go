package model

import (
	"encoding/json"
	"runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

// tokenSpan is shaped like an LLM call span with token ids, the spans that
// dominate triplet buffers.
func tokenSpan(tokens int) Span {
	ids := make([]any, tokens)
	for i := range ids {
		ids[i] = json.Number(strconv.Itoa(100000 + i))
	}
	parent := "00f067aa0ba902b7"
	return Span{
		RolloutID: "ro-1", AttemptID: "at-1", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "a3ce929d0e0e4736",
		ParentID: &parent, Name: "openai.chat",
		Attributes: Attributes{
			"gen_ai.prompt.0.role":      "user",
			"gen_ai.prompt.0.content":   string(make([]byte, 400)),
			"prompt_token_ids":          ids,
			"gen_ai.usage.input_tokens": json.Number("256"),
			"nested":                    map[string]any{"a": 1.5, "b": true},
		},
		Resource: OtelResource{Attributes: Attributes{"service.name": "agent"}},
	}
}

func TestHeapBytesGrowsWithContent(t *testing.T) {
	small, large := tokenSpan(10), tokenSpan(1000)
	assert.Greater(t, large.HeapBytes(), small.HeapBytes()+990*headerBytes)
	empty := Span{}
	assert.Equal(t, spanBytes+2*mapBytes, empty.HeapBytes())
}

// The estimate is used as a memory budget: it must be within a small factor
// of what the runtime really allocates for such spans.
func TestHeapBytesTracksAllocation(t *testing.T) {
	const n = 200
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	spans := make([]Span, n)
	for i := range spans {
		spans[i] = tokenSpan(500)
	}
	runtime.ReadMemStats(&after)
	allocated := float64(after.TotalAlloc-before.TotalAlloc) / n
	estimated := float64(spans[0].HeapBytes())
	assert.InDelta(t, 1, estimated/allocated, 0.5, "estimate %v bytes, allocated %v bytes per span", estimated, allocated)
}
