package genai

import "fmt"

// Problem is the kind of a value Parse could not use.
type Problem string

// The problems Parse counts. None of them stops parsing: the offending value
// is skipped (or, for invalid UTF-8, repaired) and the rest is extracted.
const (
	ProblemInvalidJSON     Problem = "invalid_json"
	ProblemInvalidLiteral  Problem = "invalid_python_literal"
	ProblemWrongType       Problem = "wrong_type"
	ProblemMissingField    Problem = "missing_field"
	ProblemInvalidUTF8     Problem = "invalid_utf8"
	ProblemOversized       Problem = "oversized"
	ProblemTooDeep         Problem = "too_deep"
	ProblemIndexOutOfRange Problem = "index_out_of_range"
)

// Warning describes one problem.
type Warning struct {
	// Key is the attribute (or event) the value came from.
	Key     string  `json:"key"`
	Problem Problem `json:"problem"`
	Detail  string  `json:"detail,omitempty"`
}

func (w Warning) String() string {
	if w.Detail == "" {
		return fmt.Sprintf("%s: %s", w.Key, w.Problem)
	}
	return fmt.Sprintf("%s: %s: %s", w.Key, w.Problem, w.Detail)
}

// Stats counts the values Parse skipped or repaired. Callers add them to
// their own telemetry; they are never fatal.
type Stats struct {
	// InvalidJSON: a value that should hold JSON does not parse.
	InvalidJSON int `json:"invalid_json,omitempty"`
	// InvalidLiteral: a value that should hold a Python literal (LiteLLM)
	// parses neither as JSON nor as a Python literal.
	InvalidLiteral int `json:"invalid_python_literal,omitempty"`
	// WrongType: a value has a type the convention does not allow, e.g. a
	// token id list holding strings, or a message that is not an object.
	WrongType int `json:"wrong_type,omitempty"`
	// MissingField: a required field is absent, e.g. a prompt message
	// without a role that cannot be inferred.
	MissingField int `json:"missing_field,omitempty"`
	// InvalidUTF8: a string held invalid UTF-8; it was repaired with U+FFFD.
	InvalidUTF8 int `json:"invalid_utf8,omitempty"`
	// Oversized: a string longer than Limits.MaxValueBytes was not decoded.
	Oversized int `json:"oversized,omitempty"`
	// TooDeep: a value nested deeper than Limits.MaxDepth was not decoded.
	TooDeep int `json:"too_deep,omitempty"`
	// IndexOutOfRange: a flattened index above Limits.MaxIndex was ignored.
	IndexOutOfRange int `json:"index_out_of_range,omitempty"`

	// Warnings details the first Limits.MaxWarnings problems.
	Warnings []Warning `json:"warnings,omitempty"`
}

// Total is the number of problems counted.
func (s Stats) Total() int {
	return s.InvalidJSON + s.InvalidLiteral + s.WrongType + s.MissingField +
		s.InvalidUTF8 + s.Oversized + s.TooDeep + s.IndexOutOfRange
}

// Count returns the counter of one problem.
func (s Stats) Count(p Problem) int {
	switch p {
	case ProblemInvalidJSON:
		return s.InvalidJSON
	case ProblemInvalidLiteral:
		return s.InvalidLiteral
	case ProblemWrongType:
		return s.WrongType
	case ProblemMissingField:
		return s.MissingField
	case ProblemInvalidUTF8:
		return s.InvalidUTF8
	case ProblemOversized:
		return s.Oversized
	case ProblemTooDeep:
		return s.TooDeep
	case ProblemIndexOutOfRange:
		return s.IndexOutOfRange
	}
	return 0
}

// Add adds the counters of o to s; warnings are appended up to max (no cap
// when max <= 0).
func (s *Stats) Add(o Stats, max int) {
	s.InvalidJSON += o.InvalidJSON
	s.InvalidLiteral += o.InvalidLiteral
	s.WrongType += o.WrongType
	s.MissingField += o.MissingField
	s.InvalidUTF8 += o.InvalidUTF8
	s.Oversized += o.Oversized
	s.TooDeep += o.TooDeep
	s.IndexOutOfRange += o.IndexOutOfRange
	for _, w := range o.Warnings {
		if max > 0 && len(s.Warnings) >= max {
			break
		}
		s.Warnings = append(s.Warnings, w)
	}
}

func (s *Stats) record(w Warning, maxWarnings int) {
	switch w.Problem {
	case ProblemInvalidJSON:
		s.InvalidJSON++
	case ProblemInvalidLiteral:
		s.InvalidLiteral++
	case ProblemWrongType:
		s.WrongType++
	case ProblemMissingField:
		s.MissingField++
	case ProblemInvalidUTF8:
		s.InvalidUTF8++
	case ProblemOversized:
		s.Oversized++
	case ProblemTooDeep:
		s.TooDeep++
	case ProblemIndexOutOfRange:
		s.IndexOutOfRange++
	}
	if len(s.Warnings) < maxWarnings {
		s.Warnings = append(s.Warnings, w)
	}
}
