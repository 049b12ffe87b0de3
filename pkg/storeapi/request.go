package storeapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/depthlimit"
)

// request is a validated JSON object taken from a body or a query string.
type request struct {
	raw    []byte                     // the object's JSON; nil when no body was sent
	fields map[string]json.RawMessage // its keys, so absent and null differ
}

// has reports whether key was sent, null included.
func (q *request) has(key string) bool {
	_, ok := q.fields[key]
	return ok
}

// isNull reports whether key was sent as an explicit null.
func (q *request) isNull(key string) bool {
	v, ok := q.fields[key]
	return ok && string(bytes.TrimSpace(v)) == "null"
}

// decode fills dst from the request; absent keys keep dst's values.
func (q *request) decode(dst any) error {
	if q.raw == nil {
		return nil
	}
	return json.Unmarshal(q.raw, dst)
}

// readBody reads and validates a JSON body against s. A missing body, or
// a JSON null, is accepted when optional (the result is not present) and
// reported as a missing field otherwise, as FastAPI does. On failure the
// 422 (or 400 for an unreadable body) has been written and ok is false.
func readBody(w http.ResponseWriter, r *http.Request, s *schema, required bool) (q *request, ok bool) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeDetail(w, http.StatusRequestEntityTooLarge, "Request body too large")
			return nil, false
		}
		if errors.Is(err, depthlimit.ErrTooDeep) {
			writeDetail(w, http.StatusBadRequest, "Request body is "+err.Error())
			return nil, false
		}
		writeDetail(w, http.StatusBadRequest, "Unable to read request body: "+err.Error())
		return nil, false
	}
	val, err := parseJSON(body)
	if err != nil {
		writeValidation(w, []fieldError{jsonError(body, err)})
		return nil, false
	}
	if val == nil {
		if required {
			writeValidation(w, []fieldError{{Type: "missing", Loc: []any{"body"}, Msg: "Field required", Input: nil}})
			return nil, false
		}
		return &request{}, true
	}
	var v validator
	v.check([]any{"body"}, val, s)
	if len(v.errs) > 0 {
		writeValidation(w, v.errs)
		return nil, false
	}
	q = &request{raw: body}
	if _, isObject := val.(map[string]any); isObject {
		if err := json.Unmarshal(body, &q.fields); err != nil {
			writeValidation(w, []fieldError{jsonError(body, err)})
			return nil, false
		}
	}
	return q, true
}

// parseJSON decodes body into generic values, numbers kept as json.Number;
// an empty body gives nil.
func parseJSON(body []byte) (any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var val any
	if err := dec.Decode(&val); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return nil, &decodeError{pos: syntax.Offset, msg: err.Error()}
		}
		return nil, &decodeError{pos: int64(len(body)), msg: err.Error()}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &decodeError{pos: dec.InputOffset(), msg: "Extra data"}
	}
	return val, nil
}

// decodeError locates why a body is not JSON.
type decodeError struct {
	pos int64
	msg string
}

func (e *decodeError) Error() string { return e.msg }

// jsonError is FastAPI's report of a body that is not JSON.
func jsonError(body []byte, err error) fieldError {
	pos, msg := int64(0), err.Error()
	var de *decodeError
	if errors.As(err, &de) {
		pos = min(de.pos, int64(len(body)))
	}
	return fieldError{
		Type:  "json_invalid",
		Loc:   []any{"body", pos},
		Msg:   "JSON decode error",
		Input: map[string]any{},
		Ctx:   map[string]any{"error": msg},
	}
}

// readQuery turns the query string into an object shaped by s (list fields
// from repeated parameters, the last value otherwise), validates it, and
// returns it as a request. Unknown parameters are ignored.
func readQuery(w http.ResponseWriter, r *http.Request, s *schema) (*request, bool) {
	var v validator
	obj := queryObject(r.URL.Query(), s, &v)
	for _, f := range s.fields {
		if _, ok := obj[f.name]; !ok && f.required && !hasErrorAt(v.errs, f.name) {
			v.add("missing", []any{"query", f.name}, "Field required", nil, nil)
		}
	}
	for _, f := range s.fields {
		if val, ok := obj[f.name]; ok {
			v.check([]any{"query", f.name}, val, f.schema)
		}
	}
	if len(v.errs) > 0 {
		writeValidation(w, v.errs)
		return nil, false
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		writeDetail(w, http.StatusBadRequest, "Invalid query string: "+err.Error())
		return nil, false
	}
	q := &request{raw: raw}
	if err := json.Unmarshal(raw, &q.fields); err != nil {
		writeDetail(w, http.StatusBadRequest, "Invalid query string: "+err.Error())
		return nil, false
	}
	return q, true
}

// queryObject converts query parameters to the JSON types of s's fields.
// Values that do not parse as numbers are reported and left out.
func queryObject(params url.Values, s *schema, v *validator) map[string]any {
	obj := map[string]any{}
	for _, f := range s.fields {
		values, ok := params[f.name]
		if !ok || len(values) == 0 {
			continue
		}
		loc := []any{"query", f.name}
		if f.schema.kind == kindList {
			items := make([]any, len(values))
			for i, s := range values {
				items[i] = s
			}
			obj[f.name] = items
			continue
		}
		last := values[len(values)-1]
		switch f.schema.kind {
		case kindInt:
			n, err := strconv.ParseInt(last, 10, 64)
			if err != nil {
				v.add("int_parsing", loc, "Input should be a valid integer, unable to parse string as an integer", last, nil)
				continue
			}
			obj[f.name] = json.Number(strconv.FormatInt(n, 10))
		case kindNumber:
			n, err := strconv.ParseFloat(last, 64)
			if err != nil {
				v.add("float_parsing", loc, "Input should be a valid number, unable to parse string as a number", last, nil)
				continue
			}
			obj[f.name] = json.Number(strconv.FormatFloat(n, 'g', -1, 64))
		default:
			obj[f.name] = last
		}
	}
	return obj
}

func hasErrorAt(errs []fieldError, name string) bool {
	for _, e := range errs {
		if len(e.Loc) > 1 && e.Loc[1] == name {
			return true
		}
	}
	return false
}
