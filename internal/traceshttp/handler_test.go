package traceshttp

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
)

type recorder struct {
	mu    sync.Mutex
	spans []string
	out   Outcome
	err   error
}

func (rec *recorder) consume(_ context.Context, td ptrace.Traces) (Outcome, error) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				rec.spans = append(rec.spans, spans.At(k).Name())
			}
		}
	}
	return rec.out, rec.err
}

func sampleRequest(t *testing.T, names ...string) []byte {
	t.Helper()
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	for _, n := range names {
		ss.Spans().AppendEmpty().SetName(n)
	}
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func post(t *testing.T, h http.Handler, body []byte, headers map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func decodeStatus(t *testing.T, w *httptest.ResponseRecorder) *spb.Status {
	t.Helper()
	body := w.Body.Bytes()
	if w.Header().Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body, err = io.ReadAll(gz); err != nil {
			t.Fatal(err)
		}
	}
	st := &spb.Status{}
	if err := proto.Unmarshal(body, st); err != nil {
		t.Fatalf("error body is not a google.rpc.Status: %v", err)
	}
	return st
}

func TestHandlerAcceptsEncodings(t *testing.T) {
	raw := sampleRequest(t, "a", "b")
	var gz, fl bytes.Buffer
	gw := gzip.NewWriter(&gz)
	_, _ = gw.Write(raw)
	_ = gw.Close()
	fw, _ := flate.NewWriter(&fl, flate.BestSpeed)
	_, _ = fw.Write(raw)
	_ = fw.Close()
	tests := []struct {
		name     string
		body     []byte
		encoding string
	}{
		{"plain", raw, ""},
		{"gzip", gz.Bytes(), "gzip"},
		{"deflate", fl.Bytes(), "deflate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			w := post(t, NewHandler(rec.consume, 0), tt.body, map[string]string{"Content-Type": "application/x-protobuf", "Content-Encoding": tt.encoding})
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body.String())
			}
			if strings.Join(rec.spans, ",") != "a,b" {
				t.Fatalf("consumed %v", rec.spans)
			}
			resp := ptraceotlp.NewExportResponse()
			if err := resp.UnmarshalProto(w.Body.Bytes()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestHandlerRejectsBadInput(t *testing.T) {
	tests := []struct {
		name        string
		body        []byte
		contentType string
		encoding    string
		wantCode    int
		wantMsg     string
	}{
		{"wrong content type", []byte("{}"), "text/plain", "", 400, "Unsupported Content-Type 'text/plain', expected 'application/x-protobuf'"},
		{"garbage protobuf", []byte("not-a-proto"), "application/x-protobuf", "", 400, "Unable to parse OTLP traces payload"},
		{"bad gzip", []byte("not gzip"), "application/x-protobuf", "gzip", 400, "invalid gzip body"},
		{"unknown encoding", []byte("x"), "application/x-protobuf", "br", 415, "unsupported Content-Encoding"},
		{"too large", bytes.Repeat([]byte{0}, 2048), "application/x-protobuf", "", 413, "exceeds 1024 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			w := post(t, NewHandler(rec.consume, 1024), tt.body, map[string]string{"Content-Type": tt.contentType, "Content-Encoding": tt.encoding})
			if w.Code != tt.wantCode {
				t.Fatalf("status %d, want %d", w.Code, tt.wantCode)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/x-protobuf" {
				t.Fatalf("content type %q", ct)
			}
			if st := decodeStatus(t, w); !strings.Contains(st.Message, tt.wantMsg) {
				t.Fatalf("message %q does not contain %q", st.Message, tt.wantMsg)
			}
			if len(rec.spans) != 0 {
				t.Fatalf("consumer called with %v", rec.spans)
			}
		})
	}
}

func TestHandlerGzipNegotiation(t *testing.T) {
	for _, accept := range []string{"gzip;q=0.9,br", "br, gzip;q=0.1"} {
		rec := &recorder{}
		w := post(t, NewHandler(rec.consume, 0), sampleRequest(t, "a"), map[string]string{"Content-Type": "application/x-protobuf", "Accept-Encoding": accept})
		if w.Header().Get("Content-Encoding") != "gzip" {
			t.Fatalf("%q: response not gzipped", accept)
		}
		gz, err := gzip.NewReader(w.Body)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(gz)
		if err := ptraceotlp.NewExportResponse().UnmarshalProto(body); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{}
	w := post(t, NewHandler(rec.consume, 0), []byte("junk"), map[string]string{"Content-Type": "application/x-protobuf", "Accept-Encoding": "gzip"})
	if w.Code != 400 || w.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("error response: code %d encoding %q", w.Code, w.Header().Get("Content-Encoding"))
	}
	if st := decodeStatus(t, w); !strings.Contains(st.Message, "Unable to parse") {
		t.Fatalf("message %q", st.Message)
	}
}

func TestHandlerPartialSuccessAndErrors(t *testing.T) {
	rec := &recorder{out: Outcome{RejectedSpans: 2, Message: "2 spans name unknown rollouts"}}
	w := post(t, NewHandler(rec.consume, 0), sampleRequest(t, "a", "b", "c"), map[string]string{"Content-Type": "application/x-protobuf"})
	resp := ptraceotlp.NewExportResponse()
	if err := resp.UnmarshalProto(w.Body.Bytes()); err != nil {
		t.Fatal(err)
	}
	if w.Code != 200 || resp.PartialSuccess().RejectedSpans() != 2 || resp.PartialSuccess().ErrorMessage() == "" {
		t.Fatalf("code %d partial success %d %q", w.Code, resp.PartialSuccess().RejectedSpans(), resp.PartialSuccess().ErrorMessage())
	}

	rec = &recorder{err: ErrUnavailable}
	w = post(t, NewHandler(rec.consume, 0), sampleRequest(t, "a"), map[string]string{"Content-Type": "application/x-protobuf"})
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("unavailable: code %d", w.Code)
	}
}

func TestHandlerJSONAndEmptyBody(t *testing.T) {
	rec := &recorder{}
	body := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"json-span"}]}]}]}`
	w := post(t, NewHandler(rec.consume, 0), []byte(body), map[string]string{"Content-Type": "application/json"})
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" || len(rec.spans) != 1 {
		t.Fatalf("json: code %d type %q spans %v", w.Code, w.Header().Get("Content-Type"), rec.spans)
	}
	w = post(t, NewHandler(rec.consume, 0), nil, map[string]string{"Content-Type": "application/x-protobuf"})
	if w.Code != 200 {
		t.Fatalf("empty body: code %d", w.Code)
	}
}

// TestHandlerWithOTelSDK sends spans with the real Go OTLP/HTTP exporter.
func TestHandlerWithOTelSDK(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(NewHandler(rec.consume, 0))
	defer srv.Close()
	exp, err := otlptracehttp.New(context.Background(),
		otlptracehttp.WithEndpointURL(srv.URL+"/v1/traces"),
		otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	_, span := tp.Tracer("test").Start(context.Background(), "sdk-span")
	span.End()
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Join(rec.spans, ",") != "sdk-span" {
		t.Fatalf("consumed %v", rec.spans)
	}
}
