package storeapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The Python server validates request bodies and query strings with
// Pydantic and answers 422 with Pydantic's error list. Clients and tests
// look at those errors (type, loc), so the request models are described
// here as small schemas and checked with the same error vocabulary.
//
// Two deliberate differences with Pydantic's lax mode: integers must be
// written as JSON integers (3.0 is refused) and numbers or booleans are
// never parsed out of JSON strings. The Python client never sends either.

// kind is the JSON shape a schema accepts.
type kind int

const (
	kindAny     kind = iota // any JSON value (TaskInput)
	kindString              // str
	kindInt                 // int
	kindNumber              // float (ints accepted)
	kindBool                // bool
	kindDict                // Dict[str, Any]
	kindList                // List[elem]
	kindMap                 // Dict[str, elem]
	kindLiteral             // Literal[...]
	kindModel               // a Pydantic model with fields
	kindAttr                // an OpenTelemetry AttributeValue
	kindTagged              // a union discriminated by tag
)

// schema describes one request value.
type schema struct {
	kind     kind
	nullable bool
	literals []string           // kindLiteral
	elem     *schema            // kindList, kindMap
	fields   []field            // kindModel
	min      *int64             // kindInt: Field(ge=min)
	tag      string             // kindTagged: the discriminator key
	variants map[string]*schema // kindTagged: tag value -> model
	order    []string           // kindTagged: tag values in declaration order
}

// field is one declared field of a model.
type field struct {
	name     string
	schema   *schema
	required bool
}

func (s schema) orNull() *schema {
	s.nullable = true
	return &s
}

// fieldError is one entry of a FastAPI 422 body.
type fieldError struct {
	Type  string         `json:"type"`
	Loc   []any          `json:"loc"`
	Msg   string         `json:"msg"`
	Input any            `json:"input"`
	Ctx   map[string]any `json:"ctx,omitempty"`
}

// validator collects every error of one request, as Pydantic does.
type validator struct {
	errs []fieldError
}

func (v *validator) add(typ string, loc []any, msg string, input any, ctx map[string]any) {
	v.errs = append(v.errs, fieldError{Type: typ, Loc: append([]any(nil), loc...), Msg: msg, Input: input, Ctx: ctx})
}

// at returns loc extended by one segment without aliasing loc's array.
func at(loc []any, seg any) []any {
	out := make([]any, len(loc), len(loc)+1)
	copy(out, loc)
	return append(out, seg)
}

// check validates val (decoded with UseNumber) against s at loc.
func (v *validator) check(loc []any, val any, s *schema) {
	if val == nil {
		if !s.nullable && s.kind != kindAny {
			v.typeError(loc, val, s)
		}
		return
	}
	switch s.kind {
	case kindAny:
	case kindString:
		if _, ok := val.(string); !ok {
			v.typeError(loc, val, s)
		}
	case kindInt:
		v.checkInt(loc, val, s)
	case kindNumber:
		if _, ok := val.(json.Number); !ok {
			v.typeError(loc, val, s)
		}
	case kindBool:
		if _, ok := val.(bool); !ok {
			v.typeError(loc, val, s)
		}
	case kindDict:
		if _, ok := val.(map[string]any); !ok {
			v.typeError(loc, val, s)
		}
	case kindList:
		list, ok := val.([]any)
		if !ok {
			v.typeError(loc, val, s)
			return
		}
		for i, item := range list {
			v.check(at(loc, i), item, s.elem)
		}
	case kindMap:
		m, ok := val.(map[string]any)
		if !ok {
			v.typeError(loc, val, s)
			return
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			v.check(at(loc, k), m[k], s.elem)
		}
	case kindLiteral:
		v.checkLiteral(loc, val, s)
	case kindModel:
		v.checkModel(loc, val, s)
	case kindAttr:
		v.checkAttr(loc, val)
	case kindTagged:
		v.checkTagged(loc, val, s)
	}
}

func (v *validator) checkInt(loc []any, val any, s *schema) {
	n, ok := val.(json.Number)
	if !ok {
		v.typeError(loc, val, s)
		return
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		if f, ferr := n.Float64(); ferr == nil && f != math.Trunc(f) {
			v.add("int_from_float", loc, "Input should be a valid integer, got a number with a fractional part", val, nil)
			return
		}
		v.typeError(loc, val, s)
		return
	}
	if s.min != nil && i < *s.min {
		v.add("greater_than_equal", loc, fmt.Sprintf("Input should be greater than or equal to %d", *s.min), val, map[string]any{"ge": *s.min})
	}
}

func (v *validator) checkLiteral(loc []any, val any, s *schema) {
	if str, ok := val.(string); ok {
		for _, lit := range s.literals {
			if str == lit {
				return
			}
		}
	}
	expected := literalList(s.literals, "or")
	v.add("literal_error", loc, "Input should be "+expected, val, map[string]any{"expected": expected})
}

func (v *validator) checkModel(loc []any, val any, s *schema) {
	obj, ok := val.(map[string]any)
	if !ok {
		v.typeError(loc, val, s)
		return
	}
	for _, f := range s.fields {
		fv, present := obj[f.name]
		if !present {
			if f.required {
				v.add("missing", at(loc, f.name), "Field required", val, nil)
			}
			continue
		}
		v.check(at(loc, f.name), fv, f.schema)
	}
}

// attrMembers are the members of AttributeValue in declaration order, with
// the labels Pydantic puts at the end of a union error's loc.
var attrMembers = []struct {
	label string
	elem  *schema
	list  bool
}{
	{"str", &schema{kind: kindString}, false},
	{"bool", &schema{kind: kindBool}, false},
	{"int", &schema{kind: kindInt}, false},
	{"float", &schema{kind: kindNumber}, false},
	{"list[str]", &schema{kind: kindString}, true},
	{"list[bool]", &schema{kind: kindBool}, true},
	{"list[int]", &schema{kind: kindInt}, true},
	{"list[float]", &schema{kind: kindNumber}, true},
}

// checkAttr accepts a primitive or a homogeneous list of primitives and
// otherwise reports every union member's error, as Pydantic does.
func (v *validator) checkAttr(loc []any, val any) {
	var all []fieldError
	for _, m := range attrMembers {
		var sub validator
		s := m.elem
		if m.list {
			s = &schema{kind: kindList, elem: m.elem}
		}
		sub.check(at(loc, m.label), val, s)
		if len(sub.errs) == 0 {
			return
		}
		all = append(all, sub.errs...)
	}
	v.errs = append(v.errs, all...)
}

func (v *validator) checkTagged(loc []any, val any, s *schema) {
	obj, ok := val.(map[string]any)
	if !ok {
		v.add("model_attributes_type", loc, "Input should be a valid dictionary or object to extract fields from", val, nil)
		return
	}
	raw, present := obj[s.tag]
	if !present {
		v.add("union_tag_not_found", loc, fmt.Sprintf("Unable to extract tag using discriminator '%s'", s.tag), val,
			map[string]any{"discriminator": "'" + s.tag + "'"})
		return
	}
	tag, _ := raw.(string)
	variant, known := s.variants[tag]
	if !known {
		expected := literalList(s.order, ",")
		v.add("union_tag_invalid", loc,
			fmt.Sprintf("Input tag '%v' found using '%s' does not match any of the expected tags: %s", raw, s.tag, expected), val,
			map[string]any{"discriminator": "'" + s.tag + "'", "tag": fmt.Sprint(raw), "expected_tags": expected})
		return
	}
	v.check(at(loc, tag), val, variant)
}

// typeError reports val not having the JSON type s asks for.
func (v *validator) typeError(loc []any, val any, s *schema) {
	switch s.kind {
	case kindString:
		v.add("string_type", loc, "Input should be a valid string", val, nil)
	case kindInt:
		v.add("int_type", loc, "Input should be a valid integer", val, nil)
	case kindNumber:
		v.add("float_type", loc, "Input should be a valid number", val, nil)
	case kindBool:
		v.add("bool_type", loc, "Input should be a valid boolean", val, nil)
	case kindDict, kindMap:
		v.add("dict_type", loc, "Input should be a valid dictionary", val, nil)
	case kindList:
		v.add("list_type", loc, "Input should be a valid list", val, nil)
	case kindLiteral:
		v.checkLiteral(loc, val, s)
	case kindModel:
		v.add("model_attributes_type", loc, "Input should be a valid dictionary or object to extract fields from", val, nil)
	case kindAttr:
		v.checkAttr(loc, val)
	case kindTagged:
		v.checkTagged(loc, val, s)
	}
}

// literalList renders values the way Pydantic lists expected literals:
// "'a', 'b' or 'c'" (last = "or"), or all comma-separated (last = ",").
func literalList(values []string, last string) string {
	quoted := make([]string, len(values))
	for i, s := range values {
		quoted[i] = "'" + s + "'"
	}
	if last != "or" || len(quoted) < 2 {
		return strings.Join(quoted, ", ")
	}
	return strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
}
