package traceshttp

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/depthlimit"
)

// TestBodyLimits checks that both size limits, the server's
// max_request_body_size (an http.MaxBytesReader around the body) and the
// handler's own bound on the decompressed body, answer 413.
func TestBodyLimits(t *testing.T) {
	consume := func(context.Context, ptrace.Traces) (Outcome, error) { return Outcome{}, nil }
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, _ = w.Write(make([]byte, 1<<20))
	require.NoError(t, w.Close())

	tests := []struct {
		name     string
		handler  http.Handler
		body     []byte
		encoding string
	}{
		{"server limit", maxBytes(NewHandler(consume, 0), 1000), make([]byte, 2000), ""},
		{"decompressed limit", NewHandler(consume, 1000), gz.Bytes(), "gzip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(tt.body))
			req.Header.Set("Content-Type", contentTypeProto)
			if tt.encoding != "" {
				req.Header.Set("Content-Encoding", tt.encoding)
			}
			rec := httptest.NewRecorder()
			tt.handler.ServeHTTP(rec, req)
			assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
			var st spb.Status
			require.NoError(t, proto.Unmarshal(rec.Body.Bytes(), &st))
			assert.Equal(t, "request body exceeds 1000 bytes", st.GetMessage())
			assert.EqualValues(t, 8, st.GetCode()) // RESOURCE_EXHAUSTED
		})
	}
}

func maxBytes(h http.Handler, n int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, n)
		h.ServeHTTP(w, r)
	})
}

// TestDepthLimit: exports whose values nest deeper than depthlimit.Max are
// refused with 400 before the consumer sees anything, and reported.
func TestDepthLimit(t *testing.T) {
	consumed := 0
	consume := func(context.Context, ptrace.Traces) (Outcome, error) { consumed++; return Outcome{}, nil }
	h := NewHandler(consume, 0)
	refused := 0
	h.TooDeep = func(context.Context) { refused++ }

	deepJSON := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"x","attributes":[{"key":"k","value":` +
		strings.Repeat(`{"arrayValue":{"values":[`, 10_000) + `{"stringValue":"x"}` + strings.Repeat(`]}}`, 10_000) + `}]}]}]}]}`
	td := ptrace.NewTraces()
	span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	v := span.Attributes().PutEmpty("k")
	for range depthlimit.Max + 1 {
		v = v.SetEmptySlice().AppendEmpty()
	}
	v.SetStr("x")
	deepProto, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)

	for _, tc := range []struct {
		contentType string
		body        []byte
	}{{contentTypeJSON, []byte(deepJSON)}, {contentTypeProto, deepProto}} {
		req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(tc.body))
		req.Header.Set("Content-Type", tc.contentType)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusBadRequest, rec.Code, tc.contentType)
		assert.Contains(t, rec.Body.String(), "nested deeper than")
	}
	assert.Equal(t, 2, refused)
	assert.Zero(t, consumed)
}
