package traceshttp

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/genai"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/otlpspan"
)

// Fuzz modes: the low bits pick the encoding, the next ones how the body is
// compressed (already valid streams, so that decoding reaches the parser).
const (
	modeJSON       = 1 << 0
	modeGzip       = 1 << 1
	modeDeflate    = 1 << 2
	modeRawEncoded = 1 << 3 // Content-Encoding set, body sent as is
	modeAcceptGzip = 1 << 4
)

// FuzzHandler posts arbitrary bodies to /v1/traces the way a hostile client
// could, and runs what the store port does with the decoded traces: the
// Agent Lightning conversion and the GenAI parser on every span. Nothing may
// panic, every answer must be a well-formed OTLP response or
// google.rpc.Status, and every converted span must encode as JSON.
func FuzzHandler(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed, byte(0))
		f.Add(seed, byte(modeGzip|modeAcceptGzip))
	}
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"x"}]}]}]}`), byte(modeJSON))
	f.Add([]byte{0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0}, byte(modeRawEncoded|modeGzip))
	f.Add([]byte{}, byte(modeDeflate))

	resolver, err := otlpspan.NewResolver(otlpspan.Config{Unlabeled: otlpspan.UnlabeledAuto, AutoKey: otlpspan.AutoKeyTraceID})
	if err != nil {
		f.Fatal(err)
	}
	consume := func(_ context.Context, td ptrace.Traces) (Outcome, error) {
		items, stats := resolver.Convert(td)
		for _, it := range items {
			if _, err := json.Marshal(it.Span); err != nil {
				return Outcome{}, err
			}
			call, _ := genai.ParseSpan(it.Span)
			if _, err := json.Marshal(call.ToOpenAI()); err != nil {
				return Outcome{}, err
			}
		}
		return Outcome{RejectedSpans: int64(stats.UnlabeledDropped)}, nil
	}
	h := NewHandler(consume, 1<<20)

	f.Fuzz(func(t *testing.T, body []byte, mode byte) {
		req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(encodeBody(t, body, mode)))
		encoding := contentTypeProto
		if mode&modeJSON != 0 {
			encoding = contentTypeJSON
		}
		req.Header.Set("Content-Type", encoding)
		switch {
		case mode&modeGzip != 0:
			req.Header.Set("Content-Encoding", "gzip")
		case mode&modeDeflate != 0:
			req.Header.Set("Content-Encoding", "deflate")
		}
		if mode&modeAcceptGzip != 0 {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkAnswer(t, rec, encoding)
	})
}

func encodeBody(t *testing.T, body []byte, mode byte) []byte {
	if mode&modeRawEncoded != 0 {
		return body
	}
	var buf bytes.Buffer
	switch {
	case mode&modeGzip != 0:
		w := gzip.NewWriter(&buf)
		_, _ = w.Write(body)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case mode&modeDeflate != 0:
		w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
		_, _ = w.Write(body)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	default:
		return body
	}
	return buf.Bytes()
}

// checkAnswer requires a known status with a body that decodes as what it
// claims to be.
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder, encoding string) {
	t.Helper()
	body := rec.Body.Bytes()
	if rec.Header().Get("Content-Encoding") == "gzip" {
		r, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("response claims gzip: %v", err)
		}
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(r); err != nil {
			t.Fatalf("response claims gzip: %v", err)
		}
		body = buf.Bytes()
	}
	switch rec.Code {
	case http.StatusOK:
		resp := ptraceotlp.NewExportResponse()
		var err error
		if encoding == contentTypeJSON {
			err = resp.UnmarshalJSON(body)
		} else {
			err = resp.UnmarshalProto(body)
		}
		if err != nil {
			t.Fatalf("200 with an undecodable response: %v", err)
		}
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		var st spb.Status
		var err error
		if encoding == contentTypeJSON {
			err = protojson.Unmarshal(body, &st)
		} else {
			err = proto.Unmarshal(body, &st)
		}
		if err != nil || st.GetMessage() == "" {
			t.Fatalf("status %d with an undecodable google.rpc.Status (%v): %q", rec.Code, err, body)
		}
	default:
		t.Fatalf("unexpected status %d: %q", rec.Code, body)
	}
}

// fuzzSeeds are realistic exports: an Agent Lightning runner's labelled
// agent run with LLM calls and a reward, and an unlabelled span.
func fuzzSeeds(tb testing.TB) [][]byte {
	var out [][]byte
	for _, labelled := range []bool{true, false} {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		if labelled {
			rs.Resource().Attributes().PutStr("agentlightning.rollout_id", "ro-1")
			rs.Resource().Attributes().PutStr("agentlightning.attempt_id", "at-1")
		}
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		s := spans.AppendEmpty()
		s.SetTraceID([16]byte{1})
		s.SetSpanID([8]byte{2})
		s.SetParentSpanID([8]byte{3})
		s.SetName("openai.chat.completion")
		a := s.Attributes()
		a.PutStr("gen_ai.system", "openai")
		a.PutStr("gen_ai.prompt.0.role", "user")
		a.PutStr("gen_ai.prompt.0.content", "2+2?")
		a.PutStr("gen_ai.completion.0.content", "4")
		a.PutStr("agentlightning.span_sequence_id", "7")
		ids := a.PutEmptySlice("prompt_token_ids")
		ids.AppendEmpty().SetInt(1)
		ids.AppendEmpty().SetInt(2)
		a.PutEmptyMap("nested").PutEmptySlice("list").AppendEmpty().SetDouble(1.5)
		ev := s.Events().AppendEmpty()
		ev.SetName("gen_ai.choice")
		ev.Attributes().PutStr("message", `{"role":"assistant","content":"4"}`)
		r := spans.AppendEmpty()
		r.SetName("agentlightning.annotation")
		r.Attributes().PutDouble("agentlightning.reward.0.value", 1)
		r.Links().AppendEmpty().SetSpanID([8]byte{2})
		body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, body)
	}
	return out
}
