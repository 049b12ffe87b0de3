package requestguardextension

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"

	"github.com/otelcol-lightning/otelcol-lightning/extension/requestguardextension/internal/metadatatest"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/depthlimit"
)

func tracesNested(depth int) ptrace.Traces {
	td := ptrace.NewTraces()
	span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetName("s")
	v := span.Attributes().PutEmpty("k")
	for range depth {
		v = v.SetEmptySlice().AppendEmpty()
	}
	v.SetStr("x")
	return td
}

type recordingServer struct {
	ptraceotlp.UnimplementedGRPCServer
	spans int
}

func (s *recordingServer) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	s.spans += req.Traces().SpanCount()
	return ptraceotlp.NewExportResponse(), nil
}

// rawCodec sends bytes as they are, to put garbage on the wire.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error)      { return v.([]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error { *(v.(*[]byte)) = data; return nil }
func (rawCodec) Name() string                       { return "proto" }

var _ encoding.Codec = rawCodec{}

func TestGRPC(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	g, err := newGuard(metadatatest.NewSettings(tel), createDefaultConfig().(*Config))
	require.NoError(t, err)
	opts, err := g.GetGRPCServerOptions(context.Background())
	require.NoError(t, err)
	srv := grpc.NewServer(opts...)
	rec := &recordingServer{}
	ptraceotlp.RegisterGRPCServer(srv, rec)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)

	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	client := ptraceotlp.NewGRPCClient(conn)
	ctx := context.Background()

	_, err = client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(tracesNested(depthlimit.Max)))
	require.NoError(t, err)
	assert.Equal(t, 1, rec.spans)

	_, err = client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(tracesNested(depthlimit.Max+1)))
	assert.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	assert.Contains(t, status.Convert(err).Message(), "nested deeper than 32 levels")

	var out []byte
	err = conn.Invoke(ctx, "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
		[]byte("\x0a\xff\xff\xff garbage"), &out, grpc.ForceCodec(rawCodec{}))
	assert.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	assert.Contains(t, status.Convert(err).Message(), "not valid OTLP protobuf")
	assert.Equal(t, 1, rec.spans, "refused requests never reach the receiver")

	metadatatest.AssertEqualRequestguardRequestsRefused(t, tel, []metricdata.DataPoint[int64]{
		refused("grpc", reasonTooDeep, 1), refused("grpc", reasonMalformed, 1)}, ignore...)
}

func TestHTTP(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	g, err := newGuard(metadatatest.NewSettings(tel), createDefaultConfig().(*Config))
	require.NoError(t, err)
	wrap, err := g.GetHTTPHandler(context.Background())
	require.NoError(t, err)
	// Stands for the OTLP receiver: it reads the body and answers 400 when
	// the read fails, as otlpreceiver does.
	var decoded int
	h, err := wrap(context.Background(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		decoded += len(body)
		w.WriteHeader(http.StatusOK)
	}))
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	post := func(path, contentType string, body []byte) (int, string) {
		resp, err := http.Post(srv.URL+path, contentType, bytes.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	proto := func(depth int) []byte {
		b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(tracesNested(depth))
		require.NoError(t, err)
		return b
	}
	jsonDoc := func(depth int) []byte {
		b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(tracesNested(depth))
		require.NoError(t, err)
		return b
	}

	code, _ := post("/v1/traces", "application/x-protobuf", proto(depthlimit.Max))
	assert.Equal(t, http.StatusOK, code)
	code, _ = post("/v1/traces", "application/json", jsonDoc(depthlimit.Max))
	assert.Equal(t, http.StatusOK, code)

	code, body := post("/v1/traces", "application/x-protobuf", proto(depthlimit.Max+1))
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "nested deeper than 32 levels")
	hostile := `{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":` +
		strings.Repeat(`{"arrayValue":{"values":[`, 1_000_000)
	code, body = post("/v1/traces", "application/json", []byte(hostile))
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "JSON document nested deeper than")

	// Other signals and media types pass untouched.
	code, _ = post("/v1/metrics", "application/x-protobuf", proto(depthlimit.Max+1))
	assert.Equal(t, http.StatusOK, code)

	metadatatest.AssertEqualRequestguardRequestsRefused(t, tel, []metricdata.DataPoint[int64]{
		refused("http", reasonTooDeep, 2)}, ignore...)
}

func refused(protocol, reason string, n int64) metricdata.DataPoint[int64] {
	return metricdata.DataPoint[int64]{Value: n, Attributes: attribute.NewSet(
		attribute.String("protocol", protocol), attribute.String("reason", reason))}
}

var ignore = []metricdatatest.Option{metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars()}

// TestRefusalNotesAreBounded: notes whose call never reached the
// interceptor (an authenticator refused it first) are dropped once old, and
// the table never holds more than maxNotes.
func TestRefusalNotesAreBounded(t *testing.T) {
	c := &codec{refused: map[any]refusal{}}
	for i := range maxNotes {
		require.True(t, c.refuse(new(int), assert.AnError, reasonMalformed), "note %d", i)
	}
	assert.False(t, c.refuse(new(int), assert.AnError, reasonMalformed), "a full table of recent notes takes no more")
	c.mu.Lock()
	for k, r := range c.refused {
		r.at = r.at.Add(-2 * orphanAge)
		c.refused[k] = r
	}
	c.mu.Unlock()
	assert.True(t, c.refuse(new(int), assert.AnError, reasonMalformed))
	assert.Len(t, c.refused, 1, "orphans are dropped")
}
