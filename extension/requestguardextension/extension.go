package requestguardextension // import "github.com/otelcol-lightning/otelcol-lightning/extension/requestguardextension"

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensionmiddleware"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"

	"github.com/otelcol-lightning/otelcol-lightning/extension/requestguardextension/internal/metadata"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/depthlimit"
)

// Reasons on the requests_refused metric.
const (
	reasonTooDeep   = "too_deep"
	reasonMalformed = "malformed"
)

type guard struct {
	cfg       *Config
	telemetry *metadata.TelemetryBuilder
}

var (
	_ extension.Extension            = (*guard)(nil)
	_ extensionmiddleware.HTTPServer = (*guard)(nil)
	_ extensionmiddleware.GRPCServer = (*guard)(nil)
)

func newGuard(set extension.Settings, cfg *Config) (*guard, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &guard{cfg: cfg, telemetry: tb}, nil
}

func (*guard) Start(context.Context, component.Host) error { return nil }

func (g *guard) Shutdown(context.Context) error {
	g.telemetry.Shutdown()
	return nil
}

func (g *guard) count(ctx context.Context, protocol, reason string) {
	g.telemetry.RequestguardRequestsRefused.Add(ctx, 1, metric.WithAttributeSet(attribute.NewSet(
		attribute.String("protocol", protocol), attribute.String("reason", reason))))
}

// GetHTTPHandler wraps the receiver's handler. confighttp runs middlewares
// after decompression and the body size limit, so the scan sees the bytes
// the receiver would decode, and the receiver reads them through it: a
// request over the limit fails its read at the first byte too deep, which
// the OTLP receiver answers with 400 and the scan's message, having held
// only what it read so far.
func (g *guard) GetHTTPHandler(context.Context) (extensionmiddleware.WrapHTTPHandlerFunc, error) {
	return func(_ context.Context, next http.Handler) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if scanner := httpScanner(r); scanner != nil {
				depthlimit.GuardBody(r, scanner, func() { g.count(r.Context(), "http", reasonTooDeep) })
			}
			next.ServeHTTP(w, r)
		}), nil
	}, nil
}

// httpScanner picks the scan for an OTLP/HTTP request by its media type
// and signal; nil leaves the request alone.
func httpScanner(r *http.Request) interface{ Write([]byte) (int, error) } {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil
	}
	switch strings.ToLower(mt) {
	case "application/json":
		// OTLP/JSON costs three JSON levels per AnyValue level; the store
		// checks the decoded values against depthlimit.Max exactly.
		return depthlimit.NewJSONScanner(depthlimit.OTLPJSONMax)
	case "application/x-protobuf":
		switch {
		case strings.HasSuffix(r.URL.Path, "/logs"):
			return depthlimit.NewOTLPScanner(depthlimit.LogsRequest, depthlimit.Max)
		case strings.HasSuffix(r.URL.Path, "/traces"):
			return depthlimit.NewOTLPScanner(depthlimit.TracesRequest, depthlimit.Max)
		}
	}
	return nil
}

// GetGRPCServerOptions replaces the server's codec, adds an interceptor and
// sets the connection handshake timeout.
//
// gRPC decodes a unary request before any interceptor runs, and turns every
// decoding error into INTERNAL ("grpc: failed to unmarshal the received
// message"), so neither an interceptor nor a codec error can refuse a
// request with the right code. The codec therefore scans each OTLP request
// before decoding it and, when the request is too deep or does not decode,
// leaves the message empty, returns no error and notes the refusal against
// the message; the interceptor, which receives that same message, answers
// INVALID_ARGUMENT with the reason instead of calling the receiver.
func (g *guard) GetGRPCServerOptions(context.Context) ([]grpc.ServerOption, error) {
	delegate := encoding.GetCodecV2("proto")
	if delegate == nil {
		return nil, errors.New("no gRPC proto codec is registered")
	}
	c := &codec{guard: g, delegate: delegate, refused: map[any]refusal{}}
	return []grpc.ServerOption{
		grpc.ForceServerCodecV2(c),
		grpc.ChainUnaryInterceptor(c.intercept),
		grpc.ConnectionTimeout(g.cfg.HandshakeTimeout),
	}, nil
}

type refusal struct {
	err    error
	reason string
	at     time.Time
}

type codec struct {
	guard    *guard
	delegate encoding.CodecV2

	mu      sync.Mutex
	refused map[any]refusal // keyed by the request message (a pointer)
}

// Name is "proto": the codec serves the content subtype gRPC clients send.
func (*codec) Name() string { return "proto" }

func (c *codec) Marshal(v any) (mem.BufferSlice, error) { return c.delegate.Marshal(v) }

func (c *codec) Unmarshal(data mem.BufferSlice, v any) error {
	msg, otlp := otlpRequest(v)
	if !otlp {
		return c.delegate.Unmarshal(data, v)
	}
	if msg != 0 {
		scanner := depthlimit.NewOTLPScanner(msg, depthlimit.Max)
		for _, b := range data {
			if _, err := scanner.Write(b.ReadOnlyData()); err != nil {
				if !c.refuse(v, err, reasonTooDeep) {
					return err
				}
				return nil
			}
		}
	}
	if err := c.delegate.Unmarshal(data, v); err != nil {
		err = fmt.Errorf("the request is not valid OTLP protobuf: %w", err)
		if !c.refuse(v, err, reasonMalformed) {
			return err
		}
	}
	return nil
}

// otlpRequest tells whether v is an OTLP export request, and which one the
// depth scan knows; pdata's generated request types are internal, so they
// are recognised by name.
func otlpRequest(v any) (depthlimit.Message, bool) {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return 0, false
	}
	switch t.Elem().Name() {
	case "ExportTraceServiceRequest":
		return depthlimit.TracesRequest, true
	case "ExportLogsServiceRequest":
		return depthlimit.LogsRequest, true
	case "ExportMetricsServiceRequest", "ExportProfilesServiceRequest":
		return 0, true
	}
	return 0, false
}

// Bounds of the refusal notes: the interceptor takes a note microseconds
// after the codec wrote it, unless an authenticator (which runs first)
// refused the call; such orphans are dropped after orphanAge, and at most
// maxNotes are kept, so unauthenticated garbage cannot grow the table.
const (
	orphanAge = 10 * time.Second
	maxNotes  = 4096
)

// refuse notes why the message v was left empty. It reports false when the
// table is full of recent notes; the codec then returns the error itself
// (gRPC answers INTERNAL for that one request).
func (c *codec) refuse(v any, err error, reason string) bool {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.refused) >= 64 {
		for k, r := range c.refused {
			if now.Sub(r.at) > orphanAge {
				delete(c.refused, k)
			}
		}
	}
	if len(c.refused) >= maxNotes {
		return false
	}
	c.refused[v] = refusal{err: err, reason: reason, at: now}
	return true
}

func (c *codec) take(v any) (refusal, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.refused[v]
	if ok {
		delete(c.refused, v)
	}
	return r, ok
}

func (c *codec) intercept(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if r, ok := c.take(req); ok {
		c.guard.count(ctx, "grpc", r.reason)
		return nil, status.Error(codes.InvalidArgument, r.err.Error())
	}
	return handler(ctx, req)
}
