// Package depthlimit refuses structured values nested deeper than the store
// can read back, before anything decodes them.
//
// Every door that takes structured data (OTLP/HTTP and OTLP/gRPC, the store
// port's /v1/traces, its REST bodies, and doors added later) calls it on the
// raw bytes, and the store calls it again on every span it writes, so a
// value that somehow got past a door is refused there instead of stored.
//
// One limit, Max, counted the way each format nests:
//
//   - a JSON document: its arrays and objects, the whole document included
//     (a REST body {"input": [[...]]} counts the body's object);
//   - an OTLP protobuf request: the arrayValue / kvlistValue nesting of each
//     attribute value and log body (the request's own envelope is free);
//   - a decoded Go value (what the store keeps in a span's attributes):
//     its []any and map[string]any nesting.
//
// OTLP/JSON is checked at the door as a JSON document with the budget
// OTLPJSONMax, the JSON nesting that Max levels of AnyValues take, and
// exactly once decoded, where its spans are stored.
//
// The scanners never decode: they keep a counter (JSON) or a stack of at
// most a few hundred frames (protobuf), whatever the size of the input, so
// refusing a hostile request costs neither memory nor stack.
package depthlimit // import "github.com/otelcol-lightning/otelcol-lightning/pkg/depthlimit"

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Max is the deepest nesting of a structured value that any door accepts.
//
// Why 32: it is the deepest every reader accepts, in every format and
// position. pdata's protobuf decoder (the OTLP receivers) stops at 100
// message levels, which is 32 nested kvlistValues (49 arrayValues); SQLite's
// JSON functions (sorting and filtering on a JSON field) stop at 1 000
// levels, Go's encoding/json at 10 000, PostgreSQL's jsonb at its
// max_stack_depth (thousands). A stored span wraps an attribute value in
// three more levels (span, attributes, value), a stored rollout its input in
// two, so every stored document stays far below the lowest reader limit.
// Real agent payloads (JSON Schema tool definitions, chat messages, nested
// tool arguments) nest 5 to 20 levels.
const Max = 32

// OTLPJSONMax is the JSON nesting an OTLP/JSON export may reach: four
// containers per AnyValue level (a kvlistValue level is
// {"kvlistValue":{"values":[{"key":..,"value":...; an arrayValue level
// three) plus the export's envelope (resourceSpans, scopeSpans, spans,
// attributes, events and their objects). It bounds the decoder's work
// before decoding; the store then checks the decoded values against Max
// exactly.
const OTLPJSONMax = 4*Max + 16

// ErrTooDeep is matched by every *Error (errors.Is).
var ErrTooDeep = errors.New("structured value nested too deep")

// Error reports input nested deeper than Limit.
type Error struct {
	// Limit is the nesting that was exceeded.
	Limit int
	// What names the input: "JSON document", "OTLP attribute value", ...
	What string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s nested deeper than %d levels", e.What, e.Limit)
}

// Is makes errors.Is(err, ErrTooDeep) true for every *Error.
func (e *Error) Is(target error) bool { return target == ErrTooDeep }

// checkingReader passes its source through a scanner as it is read, and
// fails the read at the first byte over the limit, so the consumer never
// holds the rest of a hostile body.
type checkingReader struct {
	r    io.Reader
	scan func([]byte) error
	err  error
}

func (c *checkingReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.r.Read(p)
	if n > 0 {
		if serr := c.scan(p[:n]); serr != nil {
			c.err = serr
			return 0, serr
		}
	}
	return n, err
}

// GuardJSONBody makes reads of r's body fail with an *Error as soon as the
// JSON read so far nests deeper than limit, for HTTP doors whose handlers
// read the body themselves (REST APIs, proxies). refused, when not nil, is
// called once when that happens, to count it.
func GuardJSONBody(r *http.Request, limit int, refused func()) {
	GuardBody(r, NewJSONScanner(limit), refused)
}

// GuardBody is GuardJSONBody with any scanner (a *JSONScanner or an
// *OTLPScanner).
func GuardBody(r *http.Request, scanner io.Writer, refused func()) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	once := false
	r.Body = &guardedBody{
		Reader: &checkingReader{r: r.Body, scan: func(p []byte) error {
			_, err := scanner.Write(p)
			if err != nil && !once && refused != nil {
				once = true
				refused()
			}
			return err
		}},
		Closer: r.Body,
	}
}

type guardedBody struct {
	io.Reader
	io.Closer
}
