package depthlimit

import "encoding/json"

// CheckValue returns an *Error when v, a decoded JSON-like value
// ([]any, map[string]any, json.RawMessage, scalars), nests deeper than limit.
// The walk stops at the first level over the limit, so its cost is bounded
// by the part of v within it.
func CheckValue(v any, limit int, what string) error {
	if !withinLimit(v, limit) {
		return &Error{Limit: limit, What: what}
	}
	return nil
}

// withinLimit reports whether v nests at most budget containers.
func withinLimit(v any, budget int) bool {
	switch x := v.(type) {
	case []any:
		if budget == 0 {
			return false
		}
		for _, e := range x {
			if !withinLimit(e, budget-1) {
				return false
			}
		}
	case map[string]any:
		if budget == 0 {
			return false
		}
		for _, e := range x {
			if !withinLimit(e, budget-1) {
				return false
			}
		}
	case json.RawMessage:
		return CheckJSON(x, budget) == nil
	}
	return true
}
