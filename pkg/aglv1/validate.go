package aglv1

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/depthlimit"
)

// fieldError is one item of FastAPI's 422 body.
type fieldError struct {
	Type  string         `json:"type"`
	Loc   []any          `json:"loc"`
	Msg   string         `json:"msg"`
	Input any            `json:"input"`
	Ctx   map[string]any `json:"ctx,omitempty"`
}

// errs collects the validation errors of one request, as pydantic reports
// every failing field at once.
type errs []fieldError

func (e *errs) add(typ string, loc []any, msg string, input any) {
	*e = append(*e, fieldError{Type: typ, Loc: append([]any{}, loc...), Msg: msg, Input: input})
}

func (e *errs) missing(loc []any, container any) {
	e.add("missing", loc, "Field required", container)
}

func (e errs) write(w http.ResponseWriter) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": []fieldError(e)})
}

func at(loc []any, more ...any) []any {
	return append(append([]any{}, loc...), more...)
}

// readBody decodes a request body, answering FastAPI's 422 for bad JSON.
// An empty body is a missing body.
func readBody(w http.ResponseWriter, r *http.Request) (any, bool) {
	data, err := readAll(r)
	if err != nil {
		if errors.Is(err, depthlimit.ErrTooDeep) {
			writeDetail(w, http.StatusBadRequest, err.Error())
			return nil, false
		}
		writeDetail(w, http.StatusBadRequest, "could not read the request body")
		return nil, false
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		var e errs
		e.missing([]any{"body"}, nil)
		e.write(w)
		return nil, false
	}
	v, err := decodeOrdered(data)
	if err != nil {
		msg, pos := pythonJSONError(data)
		e := errs{{Type: "json_invalid", Loc: []any{"body", pos}, Msg: "JSON decode error", Input: map[string]any{},
			Ctx: map[string]any{"error": msg}}}
		e.write(w)
		return nil, false
	}
	return v, true
}

// The lax-mode conversions of pydantic v2 for the field types v1.0 uses.

func asString(e *errs, loc []any, v any, nullable bool) (*string, bool) {
	switch t := v.(type) {
	case nil:
		if nullable {
			return nil, true
		}
	case string:
		return &t, true
	}
	e.add("string_type", loc, "Input should be a valid string", v)
	return nil, false
}

func asInt(e *errs, loc []any, v any, nullable bool) (*int64, bool) {
	switch t := v.(type) {
	case nil:
		if nullable {
			return nil, true
		}
		e.add("int_type", loc, "Input should be a valid integer", v)
		return nil, false
	case json.Number:
		if n, err := t.Int64(); err == nil {
			return &n, true
		}
		f, err := t.Float64()
		if err == nil && f == math.Trunc(f) && !math.IsInf(f, 0) {
			n := int64(f)
			return &n, true
		}
		e.add("int_from_float", loc, "Input should be a valid integer, got a number with a fractional part", v)
		return nil, false
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64); err == nil {
			return &n, true
		}
		e.add("int_parsing", loc, "Input should be a valid integer, unable to parse string as an integer", v)
		return nil, false
	case bool:
		n := int64(0)
		if t {
			n = 1
		}
		return &n, true
	}
	e.add("int_type", loc, "Input should be a valid integer", v)
	return nil, false
}

func asBool(e *errs, loc []any, v any) (bool, bool) {
	switch t := v.(type) {
	case bool:
		return t, true
	case json.Number:
		switch t.String() {
		case "0":
			return false, true
		case "1":
			return true, true
		}
		e.add("bool_parsing", loc, "Input should be a valid boolean, unable to interpret input", v)
		return false, false
	case string:
		switch strings.ToLower(t) {
		case "0", "off", "f", "false", "n", "no":
			return false, true
		case "1", "on", "t", "true", "y", "yes":
			return true, true
		}
		e.add("bool_parsing", loc, "Input should be a valid boolean, unable to interpret input", v)
		return false, false
	}
	e.add("bool_type", loc, "Input should be a valid boolean", v)
	return false, false
}

// asModel checks that v is an object, for a field of a pydantic model type.
func asModel(e *errs, loc []any, v any) (*object, bool) {
	if o, ok := v.(*object); ok {
		return o, true
	}
	e.add("model_attributes_type", loc, "Input should be a valid dictionary or object to extract fields from", v)
	return nil, false
}

// asDict checks that v is an object, for a dict field.
func asDict(e *errs, loc []any, v any) (*object, bool) {
	if o, ok := v.(*object); ok {
		return o, true
	}
	e.add("dict_type", loc, "Input should be a valid dictionary", v)
	return nil, false
}

func asList(e *errs, loc []any, v any) ([]any, bool) {
	if l, ok := v.([]any); ok {
		return l, true
	}
	e.add("list_type", loc, "Input should be a valid list", v)
	return nil, false
}
