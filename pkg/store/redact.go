package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
)

// Redact returns err with a message that is safe to send to a client. The
// store's own messages (*Error, *InvalidArgumentError: "Rollout x not
// found") are kept; anything else comes from a database driver, whose
// messages can name the database user, database and host:port, and becomes
// a generic message that quotes ref, so that an operator finds the full
// error in the log line carrying the same ref. errors.Is and errors.As still
// see err (a redacted transient error stays retryable).
func Redact(err error, ref string) error {
	if err == nil {
		return nil
	}
	var se *Error
	var ie *InvalidArgumentError
	if errors.As(err, &se) || errors.As(err, &ie) {
		return err
	}
	msg := "internal store error (ref " + ref + ")"
	if IsTransient(err) {
		msg = "the store is temporarily unavailable (ref " + ref + ")"
	}
	return &redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// NewRef returns a short random id that ties a redacted answer to the log
// line holding the full error.
func NewRef() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
