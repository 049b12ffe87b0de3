package store

import (
	"errors"
	"fmt"
)

// Error is a store-level failure. Over REST it becomes a 500 whose
// error_type is Type, the Python exception class Agent Lightning raises in
// the same situation, so clients see the same diagnostics.
type Error struct {
	Type    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// InvalidArgumentError is a request the store refuses before touching data
// (bad sort field, negative offset...). Over REST it becomes a 400 whose
// detail is Message, worded exactly as Agent Lightning's server words it.
type InvalidArgumentError struct {
	Message string
	// Err is the typed cause, when there is one (a *depthlimit.Error...).
	Err error
}

func (e *InvalidArgumentError) Error() string { return e.Message }
func (e *InvalidArgumentError) Unwrap() error { return e.Err }

// TransientError wraps a failure worth retrying (database busy, connection
// lost). Exporters retry these and drop anything else.
type TransientError struct{ Err error }

func (e *TransientError) Error() string { return "transient store error: " + e.Err.Error() }
func (e *TransientError) Unwrap() error { return e.Err }

// IsTransient reports whether err is worth retrying.
func IsTransient(err error) bool {
	var t *TransientError
	return errors.As(err, &t)
}

func valueError(format string, args ...any) error {
	return &Error{Type: "ValueError", Message: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) error {
	return &InvalidArgumentError{Message: fmt.Sprintf(format, args...)}
}

// ErrClosed is returned by a store after Close.
var ErrClosed = errors.New("store is closed")
