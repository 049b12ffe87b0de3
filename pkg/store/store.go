package store

import (
	"context"
	"encoding/json"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// Store is the Agent Lightning LightningStore contract (spec §2.3) plus the
// collector's own additions (batched OTLP ingest, triplets, messages).
type Store interface {
	StartRollout(ctx context.Context, req StartRolloutRequest) (*model.Rollout, error)
	EnqueueRollouts(ctx context.Context, reqs []model.EnqueueRolloutRequest) ([]model.Rollout, error)
	DequeueRollouts(ctx context.Context, limit int, workerID *string) ([]model.Rollout, error)
	StartAttempt(ctx context.Context, rolloutID string, workerID *string) (*model.Rollout, error)
	QueryRollouts(ctx context.Context, q RolloutQuery) (model.Paginated[model.Rollout], error)
	// GetRollout returns nil, nil when the rollout does not exist.
	GetRollout(ctx context.Context, rolloutID string) (*model.Rollout, error)
	UpdateRollout(ctx context.Context, rolloutID string, u RolloutUpdate) (*model.Rollout, error)

	QueryAttempts(ctx context.Context, q AttemptQuery) (model.Paginated[model.Attempt], error)
	// GetLatestAttempt returns nil, nil when the rollout has no attempt.
	GetLatestAttempt(ctx context.Context, rolloutID string) (*model.Attempt, error)
	// UpdateAttempt accepts LatestAttempt as attemptID.
	UpdateAttempt(ctx context.Context, rolloutID, attemptID string, u AttemptUpdate) (*model.Attempt, error)

	// AddSpan returns nil, nil for a duplicate (rollout, attempt, span id).
	AddSpan(ctx context.Context, span model.Span) (*model.Span, error)
	AddSpans(ctx context.Context, spans []model.Span) ([]model.Span, error)
	// IngestSpans stores one OTLP batch in a single transaction (see Ingest).
	IngestSpans(ctx context.Context, items []IngestItem) (IngestResult, error)
	NextSequenceIDs(ctx context.Context, keys []SequenceKey) ([]int, error)
	QuerySpans(ctx context.Context, q SpanQuery) (model.Paginated[model.Span], error)
	// QuerySpansRaw is QuerySpans with each span as its JSON encoding.
	QuerySpansRaw(ctx context.Context, q SpanQuery) (model.Paginated[json.RawMessage], error)

	// WaitForRollouts returns the finished rollouts among ids; timeout < 0
	// waits until the context ends.
	WaitForRollouts(ctx context.Context, ids []string, timeout float64) ([]model.Rollout, error)

	AddResources(ctx context.Context, res model.NamedResources) (*model.ResourcesUpdate, error)
	UpdateResources(ctx context.Context, resourcesID string, res model.NamedResources) (*model.ResourcesUpdate, error)
	GetResources(ctx context.Context, resourcesID string) (*model.ResourcesUpdate, error)
	GetLatestResources(ctx context.Context) (*model.ResourcesUpdate, error)
	QueryResources(ctx context.Context, q ResourcesQuery) (model.Paginated[model.ResourcesUpdate], error)

	UpdateWorker(ctx context.Context, workerID string, heartbeatStats json.RawMessage) (*model.Worker, error)
	GetWorker(ctx context.Context, workerID string) (*model.Worker, error)
	QueryWorkers(ctx context.Context, q WorkerQuery) (model.Paginated[model.Worker], error)

	// ReplaceTriplets stores the triplets of one attempt at a revision; an
	// older revision than the stored one is ignored, and NextRevision takes
	// the stored revision plus one.
	ReplaceTriplets(ctx context.Context, rolloutID, attemptID string, revision int, triplets []model.TripletRecord) error
	QueryTriplets(ctx context.Context, rolloutID, attemptID string) ([]model.TripletRecord, error)
	AddMessages(ctx context.Context, msgs []model.MessageRecord) error
	QueryMessages(ctx context.Context, rolloutID, attemptID string) ([]model.MessageRecord, error)

	Statistics(ctx context.Context) (map[string]any, error)
	Close() error
}

// NextRevision, given to ReplaceTriplets, asks the store for the attempt's
// next triplet revision: the store, not the builder's memory, is the
// authority on revisions.
const NextRevision = 0

// LatestAttempt selects the latest attempt wherever an attempt id is expected.
const LatestAttempt = "latest"

// StartRolloutRequest is the body of start_rollout.
type StartRolloutRequest struct {
	Input       json.RawMessage      `json:"input"`
	Mode        *model.RolloutMode   `json:"mode"`
	ResourcesID *string              `json:"resources_id"`
	Config      *model.RolloutConfig `json:"config"`
	Metadata    json.RawMessage      `json:"metadata"`
	WorkerID    *string              `json:"worker_id"`
}

// Patch is a field of a partial update: Set false leaves the field alone,
// Set true with a nil Value clears it.
type Patch[T any] struct {
	Set   bool
	Value *T
}

// To returns a patch that sets v.
func To[T any](v T) Patch[T] { return Patch[T]{Set: true, Value: &v} }

// Clear returns a patch that sets null.
func Clear[T any]() Patch[T] { return Patch[T]{Set: true} }

// RolloutUpdate is a partial update of a rollout.
type RolloutUpdate struct {
	Input       Patch[json.RawMessage]
	Mode        Patch[model.RolloutMode]
	ResourcesID Patch[string]
	Status      Patch[model.RolloutStatus]
	Config      Patch[model.RolloutConfig]
	Metadata    Patch[json.RawMessage]
}

// AttemptUpdate is a partial update of an attempt.
type AttemptUpdate struct {
	Status            Patch[model.AttemptStatus]
	WorkerID          Patch[string]
	LastHeartbeatTime Patch[float64]
	Metadata          Patch[json.RawMessage]
}

// SequenceKey names the rollout whose span counter to bump; the attempt is
// carried for Agent Lightning compatibility but does not scope the counter.
type SequenceKey struct {
	RolloutID string
	AttemptID string
}

// IngestItem is one span of an OTLP batch. A zero Span.SequenceID asks the
// store to allocate one in arrival order. CreateMetadata, when set, lets the
// store create the rollout and attempt if they do not exist yet (status
// running, with this metadata); when nil, unknown ids are rejected.
type IngestItem struct {
	Span           model.Span
	CreateMetadata json.RawMessage
}

// IngestResult reports what happened to each item of an ingest batch.
type IngestResult struct {
	Stored     []model.Span
	Duplicates int
	Rejected   []Rejection
}

// Rejection tells why an ingest item was not stored.
type Rejection struct {
	Index int
	Err   error
}
