package aglv1

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/llmmodels"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// Store is what the API needs of the store (*store.Core implements it).
type Store interface {
	llmmodels.Registry
	CreateV1Rollouts(ctx context.Context, reqs []store.V1Create) ([]model.V1Rollout, error)
	V1Rollouts(ctx context.Context, states []string, limit int) ([]model.V1Rollout, error)
	V1Rollout(ctx context.Context, rolloutID string) (*model.V1Rollout, []string, error)
	PatchV1Rollout(ctx context.Context, rolloutID string, p store.V1StatusPatch) (*model.V1Rollout, error)
	DeleteRollout(ctx context.Context, rolloutID string) error
	V1Terminal(ctx context.Context, after, limit int) (model.V1TerminalPage, error)
	AddV1EventSpan(ctx context.Context, span model.Span) (*model.Span, error)
	PrepareV1Attempt(ctx context.Context, rolloutID, attemptID string) error
	V1EventSpans(ctx context.Context, rolloutID string) (*model.V1Rollout, []model.Span, error)
}

// Authenticate checks a request's headers, as the collector's server
// authenticators (extensionauth.Server) do; nil disables auth.
type Authenticate func(ctx context.Context, headers map[string][]string) (context.Context, error)

// Pipeline hands an event's span to the collector's traces pipeline and
// returns once it is stored; ErrNoPipeline when no pipeline is attached.
type Pipeline func(ctx context.Context, td ptrace.Traces) error

// ErrNoPipeline makes the API store event spans itself.
var ErrNoPipeline = errors.New("no traces pipeline attached")

// Handler registers routes on a server (storeapi.Router does).
type Handler interface {
	Handle(pattern string, handler http.Handler) error
}

// API is v1.0's gateway API over a store.
type API struct {
	store    Store
	auth     Authenticate
	pipeline Pipeline
	logger   *zap.Logger
	now      func() float64
}

// New returns the API over s. auth may be nil (no auth, as v1.0 with an
// empty key); pipeline may be nil (event spans go straight to the store).
func New(s Store, auth Authenticate, pipeline Pipeline, logger *zap.Logger, now func() float64) *API {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &API{store: s, auth: auth, pipeline: pipeline, logger: logger, now: now}
}

// Register mounts every route on r.
func (a *API) Register(r Handler) error {
	routes := []struct {
		pattern string
		h       http.HandlerFunc
		open    bool
	}{
		{"GET /healthz", a.healthz, true},
		{"POST /api/rollouts", a.createRollouts, false},
		{"GET /api/rollouts", a.listRollouts, false},
		{"GET /api/rollouts/terminal", a.terminal, false},
		{"GET /api/rollouts/{id}", a.getRollout, false},
		{"PATCH /api/rollouts/{id}", a.patchRollout, false},
		{"DELETE /api/rollouts/{id}", a.deleteRollout, false},
		{"POST /api/rollouts/{id}/attempt/{aid}/events", a.postEvent, false},
		{"GET /api/rollouts/{id}/events", a.getEvents, false},
		{"POST /api/models", a.postModels, false},
		{"DELETE /api/models", a.deleteModels, false},
	}
	for _, rt := range routes {
		var h http.Handler = rt.h
		if !rt.open {
			h = a.authenticated(h)
		}
		if err := r.Handle(rt.pattern, h); err != nil {
			return err
		}
	}
	return nil
}

// authenticated applies v1.0's key check through the configured
// authenticator. v1.0 takes the key as "Authorization: Bearer <key>" or as
// "x-api-key: <key>"; the second is handed to the authenticator as the
// first, so one bearer-token extension checks both.
func (a *API) authenticated(next http.Handler) http.Handler {
	if a.auth == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headers := map[string][]string(r.Header.Clone())
		if r.Header.Get("Authorization") == "" {
			if key := r.Header.Get("X-Api-Key"); key != "" {
				headers["Authorization"] = []string{"Bearer " + key}
			}
		}
		ctx, err := a.auth(r.Context(), headers)
		if err != nil {
			writeDetail(w, http.StatusUnauthorized, "Invalid or missing API key")
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (a *API) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// writeJSON writes v with FastAPI's compact encoding.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		internalError(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeDetail writes v1.0's deliberate error body {"detail": "..."}.
func writeDetail(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, map[string]string{"detail": detail})
}

// internalError is Starlette's answer to an unhandled exception.
func internalError(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write([]byte("Internal Server Error"))
}

// storeError answers a store failure: v1.0's 404 and 409, else a 500.
func (a *API) storeError(w http.ResponseWriter, rolloutID string, err error) {
	var te *store.TransitionError
	switch {
	case errors.Is(err, store.ErrRolloutNotFound):
		writeDetail(w, http.StatusNotFound, "Rollout not found: "+rolloutID)
	case errors.As(err, &te):
		writeDetail(w, http.StatusConflict, te.Message)
	default:
		a.logger.Error("Agent Lightning v1 API: store failure", zap.String("rollout_id", rolloutID), zap.Error(err))
		internalError(w)
	}
}
