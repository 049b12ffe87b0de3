package loadgen

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// Sender exports traces. Send returns nil only when the server acknowledged
// every span of td.
type Sender interface {
	Send(ctx context.Context, td ptrace.Traces) error
	Close() error
}

// StatusError is an export the server answered with an error status.
type StatusError struct {
	Code    int // HTTP status, or the gRPC code for gRPC
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("export refused: status %d: %s", e.Code, e.Message)
}

// PartialError is an export the server accepted only in part (OTLP partial
// success); the spans it names were not accepted.
type PartialError struct {
	Rejected int64
	Message  string
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("export partly rejected: %d spans: %s", e.Rejected, e.Message)
}

// Options shared by both transports.
type Options struct {
	// Headers are added to every request (gRPC: metadata), e.g.
	// Authorization for bearer-token authentication.
	Headers map[string]string
	// TLS enables TLS with this configuration; nil means plain text.
	TLS *tls.Config
	// Timeout bounds one export. Default 30s.
	Timeout time.Duration
}

func (o Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return 30 * time.Second
	}
	return o.Timeout
}

// HTTPOptions configures NewHTTPSender.
type HTTPOptions struct {
	Options
	// Gzip compresses request bodies, as Python exporters do when
	// OTEL_EXPORTER_OTLP_COMPRESSION=gzip.
	Gzip bool
}

type httpSender struct {
	url    string
	opts   HTTPOptions
	client *http.Client
}

// NewHTTPSender posts OTLP/protobuf to url (the full /v1/traces URL).
func NewHTTPSender(url string, opts HTTPOptions) Sender {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = 256
	transport.MaxIdleConnsPerHost = 256
	transport.TLSClientConfig = opts.TLS
	return &httpSender{url: url, opts: opts, client: &http.Client{Transport: transport, Timeout: opts.timeout()}}
}

func (s *httpSender) Send(ctx context.Context, td ptrace.Traces) error {
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		return fmt.Errorf("encode export request: %w", err)
	}
	if s.opts.Gzip {
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		_, _ = gz.Write(body)
		if err := gz.Close(); err != nil {
			return fmt.Errorf("compress export request: %w", err)
		}
		body = buf.Bytes()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build export request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if s.opts.Gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	for k, v := range s.opts.Headers {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read export response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return &StatusError{Code: resp.StatusCode, Message: statusMessage(raw)}
	}
	out := ptraceotlp.NewExportResponse()
	if len(raw) > 0 {
		if err := out.UnmarshalProto(raw); err != nil {
			return fmt.Errorf("decode export response: %w", err)
		}
	}
	return partial(out)
}

func (s *httpSender) Close() error {
	s.client.CloseIdleConnections()
	return nil
}

// statusMessage reads the google.rpc.Status an OTLP/HTTP error carries, or
// returns the body as text.
func statusMessage(raw []byte) string {
	var st spb.Status
	if err := proto.Unmarshal(raw, &st); err == nil && st.GetMessage() != "" {
		return st.GetMessage()
	}
	if len(raw) > 200 {
		raw = raw[:200]
	}
	return string(raw)
}

func partial(resp ptraceotlp.ExportResponse) error {
	ps := resp.PartialSuccess()
	if ps.RejectedSpans() > 0 {
		return &PartialError{Rejected: ps.RejectedSpans(), Message: ps.ErrorMessage()}
	}
	return nil
}

type grpcSender struct {
	conn   *grpc.ClientConn
	client ptraceotlp.GRPCClient
	opts   Options
}

// NewGRPCSender exports over OTLP/gRPC to endpoint (host:port).
func NewGRPCSender(endpoint string, opts Options) (Sender, error) {
	creds := insecure.NewCredentials()
	if opts.TLS != nil {
		creds = credentials.NewTLS(opts.TLS)
	}
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(256<<20)))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", endpoint, err)
	}
	return &grpcSender{conn: conn, client: ptraceotlp.NewGRPCClient(conn), opts: opts}, nil
}

func (s *grpcSender) Send(ctx context.Context, td ptrace.Traces) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.timeout())
	defer cancel()
	for k, v := range s.opts.Headers {
		ctx = metadata.AppendToOutgoingContext(ctx, k, v)
	}
	resp, err := s.client.Export(ctx, ptraceotlp.NewExportRequestFromTraces(td))
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return partial(resp)
}

func (s *grpcSender) Close() error { return s.conn.Close() }

// IsRefused reports whether err means the server answered and refused the
// export (as opposed to a transport failure).
func IsRefused(err error) bool {
	var se *StatusError
	var pe *PartialError
	return errors.As(err, &se) || errors.As(err, &pe)
}
