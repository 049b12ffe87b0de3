// Package traceshttp serves OTLP/HTTP trace exports the way Agent Lightning's
// store server does (POST /v1/traces): protobuf bodies, optionally gzip or
// deflate compressed, answered with a protobuf ExportTraceServiceResponse that
// is gzip-compressed when the client accepts it. As an extension it also
// accepts OTLP/JSON. Errors are google.rpc.Status messages encoded like the
// request.
package traceshttp

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/depthlimit"
)

const (
	contentTypeProto = "application/x-protobuf"
	contentTypeJSON  = "application/json"
)

// Outcome is what the consumer did with an export: how many spans it
// refused (reported as OTLP partial success) and why.
type Outcome struct {
	RejectedSpans int64
	Message       string
}

// ConsumeFunc receives decoded traces. An error marked retryable by the
// caller's own convention becomes 503 (the OTLP exporter retries it); any
// other error becomes 500.
type ConsumeFunc func(ctx context.Context, td ptrace.Traces) (Outcome, error)

// ErrUnavailable tells the handler to answer 503 so OTLP clients retry.
var ErrUnavailable = errors.New("temporarily unavailable")

// Handler decodes OTLP/HTTP trace exports and hands them to a ConsumeFunc.
type Handler struct {
	consume ConsumeFunc
	maxBody int64
	// TooDeep, when set, is called for every export refused because a value
	// nests deeper than depthlimit.Max (the caller counts them).
	TooDeep func(ctx context.Context)
}

// NewHandler returns a handler that refuses bodies larger than maxBody bytes
// after decompression (0: no limit).
func NewHandler(consume ConsumeFunc, maxBody int64) *Handler {
	return &Handler{consume: consume, maxBody: maxBody}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	encoding, ok := mediaType(r.Header.Get("Content-Type"))
	if !ok {
		writeStatus(w, r, contentTypeProto, http.StatusBadRequest,
			fmt.Sprintf("Unsupported Content-Type '%s', expected '%s'", r.Header.Get("Content-Type"), contentTypeProto))
		return
	}
	body, status, err := h.readBody(r, encoding)
	if err != nil {
		if errors.Is(err, depthlimit.ErrTooDeep) && h.TooDeep != nil {
			h.TooDeep(r.Context())
		}
		writeStatus(w, r, encoding, status, err.Error())
		return
	}
	req := ptraceotlp.NewExportRequest()
	if len(body) > 0 {
		if err := unmarshal(req, body, encoding); err != nil {
			writeStatus(w, r, encoding, http.StatusBadRequest, "Unable to parse OTLP traces payload: "+err.Error())
			return
		}
	}
	outcome, err := h.consume(r.Context(), req.Traces())
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, ErrUnavailable) {
			code = http.StatusServiceUnavailable
		}
		writeStatus(w, r, encoding, code, err.Error())
		return
	}
	writeResponse(w, r, encoding, outcome)
}

// mediaType accepts protobuf, and JSON as our extension to Agent Lightning.
func mediaType(header string) (string, bool) {
	mt, _, err := mime.ParseMediaType(header)
	if err != nil {
		mt = strings.TrimSpace(strings.Split(header, ";")[0])
	}
	switch strings.ToLower(mt) {
	case contentTypeProto:
		return contentTypeProto, true
	case contentTypeJSON:
		return contentTypeJSON, true
	}
	return "", false
}

func (h *Handler) readBody(r *http.Request, encoding string) ([]byte, int, error) {
	var reader io.Reader = r.Body
	switch strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))) {
	case "", "identity":
	case "gzip":
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("Unable to parse OTLP traces payload: invalid gzip body: %w", err)
		}
		defer gz.Close()
		reader = gz
	case "deflate":
		reader = flate.NewReader(r.Body)
	default:
		return nil, http.StatusUnsupportedMediaType, fmt.Errorf("unsupported Content-Encoding %q, expected gzip or deflate", r.Header.Get("Content-Encoding"))
	}
	if h.maxBody > 0 {
		reader = io.LimitReader(reader, h.maxBody+1)
	}
	// Nesting is checked as the body is read, before anything decodes it:
	// a hostile body is refused at its first byte over the limit, and the
	// decoder's recursion stays bounded.
	if encoding == contentTypeJSON {
		reader = depthlimit.JSONReader(reader, depthlimit.OTLPJSONMax)
	} else {
		reader = depthlimit.OTLPReader(reader, depthlimit.TracesRequest, depthlimit.Max)
	}
	body, err := io.ReadAll(reader)
	if err != nil {
		if errors.Is(err, depthlimit.ErrTooDeep) {
			return nil, http.StatusBadRequest, fmt.Errorf("Unable to parse OTLP traces payload: %w", err)
		}
		// The server's max_request_body_size (http.MaxBytesReader, applied
		// to the decompressed body too) is a size limit, not a parse error.
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("request body exceeds %d bytes", tooLarge.Limit)
		}
		return nil, http.StatusBadRequest, fmt.Errorf("Unable to parse OTLP traces payload: %w", err)
	}
	if h.maxBody > 0 && int64(len(body)) > h.maxBody {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("request body exceeds %d bytes", h.maxBody)
	}
	return body, 0, nil
}

func unmarshal(req ptraceotlp.ExportRequest, body []byte, encoding string) error {
	if encoding == contentTypeJSON {
		return req.UnmarshalJSON(body)
	}
	return req.UnmarshalProto(body)
}

func writeResponse(w http.ResponseWriter, r *http.Request, encoding string, outcome Outcome) {
	resp := ptraceotlp.NewExportResponse()
	if outcome.RejectedSpans > 0 || outcome.Message != "" {
		resp.PartialSuccess().SetRejectedSpans(outcome.RejectedSpans)
		resp.PartialSuccess().SetErrorMessage(outcome.Message)
	}
	var body []byte
	var err error
	if encoding == contentTypeJSON {
		body, err = resp.MarshalJSON()
	} else {
		body, err = resp.MarshalProto()
	}
	if err != nil {
		writeStatus(w, r, encoding, http.StatusInternalServerError, err.Error())
		return
	}
	write(w, r, encoding, http.StatusOK, body)
}

func writeStatus(w http.ResponseWriter, r *http.Request, encoding string, code int, msg string) {
	// Messages can quote the request (a parser's error); protobuf and
	// protojson refuse to encode strings that are not valid UTF-8.
	st := &spb.Status{Code: int32(grpcCode(code)), Message: strings.ToValidUTF8(msg, "\uFFFD")}
	var body []byte
	if encoding == contentTypeJSON {
		body, _ = protojson.Marshal(st)
	} else {
		body, _ = proto.Marshal(st)
	}
	write(w, r, encoding, code, body)
}

// write sends body, gzip-compressed when the Accept-Encoding token list names
// gzip (quality values ignored, as Agent Lightning does).
func write(w http.ResponseWriter, r *http.Request, contentType string, code int, body []byte) {
	w.Header().Set("Content-Type", contentType)
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		_, _ = gz.Write(body)
		_ = gz.Close()
		body = buf.Bytes()
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func acceptsGzip(header string) bool {
	for _, token := range strings.Split(header, ",") {
		name, _, _ := strings.Cut(token, ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			return true
		}
	}
	return false
}

// grpcCode maps an HTTP status to the google.rpc code OTLP clients expect.
func grpcCode(httpCode int) int {
	switch httpCode {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType:
		return 3 // INVALID_ARGUMENT
	case http.StatusRequestEntityTooLarge:
		return 8 // RESOURCE_EXHAUSTED
	case http.StatusServiceUnavailable:
		return 14 // UNAVAILABLE
	default:
		return 13 // INTERNAL
	}
}
