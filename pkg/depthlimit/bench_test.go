package depthlimit

import (
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// benchExport is a batch of 100 LLM-like spans: long message strings, token
// id lists and a few nested values, the shape the doors see most.
func benchExport(b *testing.B) []byte {
	b.Helper()
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	for i := range 100 {
		s := ss.Spans().AppendEmpty()
		s.SetName("chat")
		s.SetSpanID([8]byte{byte(i)})
		a := s.Attributes()
		a.PutStr("gen_ai.input.messages", strings.Repeat("message text ", 200))
		ids := a.PutEmptySlice("prompt_token_ids")
		for j := range 500 {
			ids.AppendEmpty().SetInt(int64(j))
		}
		m := a.PutEmptyMap("tool").PutEmptyMap("parameters").PutEmptyMap("properties")
		m.PutStr("location", "string")
	}
	body, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// BenchmarkDoor compares the depth scan with the decode it guards, on the
// same export in the same run: the scan's cost as a fraction of decoding.
func BenchmarkDoor(b *testing.B) {
	body := benchExport(b)
	b.Run("decode (baseline)", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("depth scan", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if err := CheckOTLP(body, TracesRequest, Max); err != nil {
				b.Fatal(err)
			}
		}
	})
	js, err := (&ptrace.JSONMarshaler{}).MarshalTraces(func() ptrace.Traces {
		td, _ := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body)
		return td
	}())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("JSON decode (baseline)", func(b *testing.B) {
		b.SetBytes(int64(len(js)))
		for b.Loop() {
			if _, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(js); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("JSON depth scan", func(b *testing.B) {
		b.SetBytes(int64(len(js)))
		for b.Loop() {
			if err := CheckJSON(js, OTLPJSONMax); err != nil {
				b.Fatal(err)
			}
		}
	})
}
