package rewards

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Reason classifies a reward value that could not be read. The values are
// stable: the reward processor uses them as a metric attribute.
type Reason string

const (
	// ReasonNonNumeric is a string that does not parse as a number.
	ReasonNonNumeric Reason = "non_numeric"
	// ReasonNonFinite is NaN or an infinity.
	ReasonNonFinite Reason = "non_finite"
	// ReasonWrongType is a value of a type that cannot hold the field (a
	// list, a map, bytes or null where a number or a string is expected).
	ReasonWrongType Reason = "wrong_type"
	// ReasonInvalidJSON is a reward payload string that is not valid JSON.
	ReasonInvalidJSON Reason = "invalid_json"
	// ReasonInvalidStructure is a flattened list that is not a list of
	// objects with the required fields (gaps in the indices, a missing
	// name, a key equal to the prefix, ...).
	ReasonInvalidStructure Reason = "invalid_structure"
	// ReasonNoScore is feedback with neither a numeric score nor a label the
	// configuration maps to one.
	ReasonNoScore Reason = "no_score"
)

// Error reports an attribute that holds a malformed reward, link or tag.
type Error struct {
	// Key is the attribute (or attribute prefix) that was read.
	Key    string
	Reason Reason
	// Detail is a human-readable explanation.
	Detail string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("%s: %s", e.Key, e.Reason)
	}
	return fmt.Sprintf("%s: %s: %s", e.Key, e.Reason, e.Detail)
}

// ReasonOf returns the Reason of an *Error in err's chain, or
// ReasonInvalidStructure for any other non-nil error, or "" for nil.
func ReasonOf(err error) Reason {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ReasonInvalidStructure
}

// ToFloat reads v as a reward number the way pydantic's lax float validation
// does: integers and floats as they are, booleans as 1 and 0, and strings
// that parse as a decimal number. NaN and infinities are rejected.
func ToFloat(v any) (float64, Reason) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case int32:
		f = float64(x)
	case uint64:
		f = float64(x)
	case uint32:
		f = float64(x)
	case json.Number:
		p, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return 0, ReasonNonNumeric
		}
		f = p
	case bool:
		if x {
			f = 1
		}
	case string:
		p, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, ReasonNonNumeric
		}
		f = p
	default:
		return 0, ReasonWrongType
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, ReasonNonFinite
	}
	return f, ""
}

// numberAt reads the number at key, wrapping a failure in an *Error.
func numberAt(key string, v any) (float64, error) {
	f, reason := ToFloat(v)
	if reason != "" {
		return 0, &Error{Key: key, Reason: reason, Detail: fmt.Sprintf("%v (%T)", v, v)}
	}
	return f, nil
}
