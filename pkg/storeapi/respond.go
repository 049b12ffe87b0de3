package storeapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// writeJSON encodes v as the whole response. Encoding happens before the
// header is written so that a value that cannot be encoded still gets a
// proper 500.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(internalError("TypeError", "encode response: "+err.Error()))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeDetail answers {"detail": msg}, the shape of FastAPI's HTTPException.
func writeDetail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"detail": msg})
}

// writeValidation answers 422 with FastAPI's RequestValidationError body.
func writeValidation(w http.ResponseWriter, errs []fieldError) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string][]fieldError{"detail": errs})
}

// errorBody is the 500 body of Agent Lightning's exception middleware.
type errorBody struct {
	Detail    string `json:"detail"`
	ErrorType string `json:"error_type"`
	Traceback string `json:"traceback"`
}

func internalError(typ, msg string) errorBody {
	// Python puts a whole traceback here; its last line, "Type: message",
	// is what people read, so that is what we send.
	return errorBody{Detail: "Internal server error", ErrorType: typ, Traceback: typ + ": " + msg}
}

// writeStoreError maps a store error to the status Agent Lightning uses:
// invalid arguments are the server's own 400s, everything else is a 500
// that the Python client retries.
func (h *handler) writeStoreError(w http.ResponseWriter, r *http.Request, err error) {
	var invalid *store.InvalidArgumentError
	if errors.As(err, &invalid) {
		writeDetail(w, http.StatusBadRequest, invalid.Message)
		return
	}
	typ := errorType(err)
	// The log has the whole error; the answer names the log line (ref)
	// instead of the database's user, host and port.
	ref := store.NewRef()
	h.logger.Error("store call failed",
		zap.String("method", r.Method), zap.String("path", r.URL.Path),
		zap.String("error_type", typ), zap.String("ref", ref), zap.Error(err))
	writeJSON(w, http.StatusInternalServerError, internalError(typ, store.Redact(err, ref).Error()))
}

// errorType names err for clients: the Python exception class carried by
// a *store.Error, or the Go type of anything else.
func errorType(err error) string {
	var se *store.Error
	if errors.As(err, &se) && se.Type != "" {
		return se.Type
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", err), "*")
}
