package store

import (
	"context"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/llmmodels"
	"go.uber.org/zap"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// Backend is what a database implements so that Core can give it the store
// semantics. It only stores and finds records; every rule of Agent Lightning
// (status propagation, heartbeats, sequence ids, worker sync) lives in Core.
type Backend interface {
	// Update runs fn in a read-write transaction: either every write of fn is
	// committed or none is (fn returning an error rolls back). Within Update,
	// the Get* methods lock what they read until commit where the database
	// allows concurrent writers (PostgreSQL); single-writer backends simply
	// serialise Update calls. Backends with concurrent writers may roll back
	// and run fn again after a deadlock or serialisation failure, so fn must
	// reset whatever it accumulates outside the transaction.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction with a consistent snapshot.
	View(ctx context.Context, fn func(Tx) error) error
	// Name is reported as the store name in statistics.
	Name() string
	Close() error
}

// Tx is one transaction of a Backend. Get* return nil, nil when the record
// does not exist. Records passed to Put* are not retained by the backend.
type Tx interface {
	GetRollout(rolloutID string) (*model.Rollout, error)
	InsertRollout(r *model.Rollout) error
	UpdateRollout(r *model.Rollout) error
	// QueryRollouts returns rollouts without their Attempt field.
	QueryRollouts(f Filter, p Page) ([]model.Rollout, int, error)
	// WatchedRollouts returns the rollouts in preparing or running whose
	// config is Watched, in insertion order: the watchdog's candidates. A
	// store full of rollouts without limits (automatic rollouts of
	// unlabelled spans) must answer this without reading them.
	WatchedRollouts() ([]model.Rollout, error)

	GetAttempt(rolloutID, attemptID string) (*model.Attempt, error)
	// LatestAttempts returns the attempt with the highest sequence_id of each
	// given rollout that has one.
	LatestAttempts(rolloutIDs []string) (map[string]*model.Attempt, error)
	CountAttempts(rolloutID string) (int, error)
	InsertAttempt(a *model.Attempt) error
	UpdateAttempt(a *model.Attempt) error
	QueryAttempts(rolloutID string, p Page) ([]model.Attempt, int, error)

	// QueuePush appends rollout ids to the tail of the FIFO queue.
	QueuePush(rolloutIDs ...string) error
	// QueuePop removes and returns up to n ids from the head. Backends with
	// concurrent writers must never hand one id to two transactions.
	QueuePop(n int) ([]string, error)
	QueueContains(rolloutID string) (bool, error)

	// SeqRaise raises the rollout's span counter to at least v.
	SeqRaise(rolloutID string, v int) error
	// SeqIncrement adds n to the rollout's span counter (starting at 0) and
	// returns the new value.
	SeqIncrement(rolloutID string, n int) (int, error)

	// InsertSpans stores spans in order and returns, for each, whether it was
	// stored (false: its (rollout, attempt, span id) already exists).
	InsertSpans(spans []model.Span) ([]bool, error)
	QuerySpans(f Filter, p Page) ([]model.Span, int, error)

	GetResources(resourcesID string) (*model.ResourcesUpdate, error)
	// PutResources inserts or replaces a snapshot by id.
	PutResources(r *model.ResourcesUpdate) error
	// LatestResources returns the snapshot with the greatest update_time
	// (ties: the one written last).
	LatestResources() (*model.ResourcesUpdate, error)
	QueryResources(f Filter, p Page) ([]model.ResourcesUpdate, int, error)

	GetWorker(workerID string) (*model.Worker, error)
	// PutWorker inserts or replaces a worker by id.
	PutWorker(w *model.Worker) error
	QueryWorkers(f Filter, p Page) ([]model.Worker, int, error)

	// ReplaceTriplets swaps the attempt's triplets for ts when revision is
	// not older than the stored revision; it reports whether it replaced.
	// NextRevision (or any revision <= 0) takes the stored revision plus one,
	// so that a writer who does not know the stored revision (a builder
	// after a restart) can never go back in revisions.
	ReplaceTriplets(rolloutID, attemptID string, revision int, ts []model.TripletRecord) (bool, error)
	QueryTriplets(rolloutID, attemptID string) ([]model.TripletRecord, error)
	InsertMessages(msgs []model.MessageRecord) error
	// MaxMessageSequence returns the greatest sequence id of the rollout's
	// messages, 0 when it has none.
	MaxMessageSequence(rolloutID string) (int, error)
	QueryMessages(rolloutID, attemptID string) ([]model.MessageRecord, error)

	Counts() (Counts, error)

	V1Tx
}

// V1Tx is what Core needs from a backend to serve Agent Lightning v1.0's
// API over the same records (core_v1.go).
type V1Tx interface {
	// GetRolloutExt returns nil, nil when the rollout has no extension row.
	GetRolloutExt(rolloutID string) (*model.RolloutExt, error)
	// PutRolloutExt inserts or replaces the extension row of a rollout.
	PutRolloutExt(e *model.RolloutExt) error
	// V1Rollouts returns the rollouts owned by the v1 API whose status is
	// one of states, in insertion order, at most limit of them.
	V1Rollouts(states []string, limit int) ([]model.Rollout, error)
	// AppendTerminal appends a rollout id to the completion log and returns
	// its position (1, 2, 3...). Positions are gap-free and, on databases
	// with concurrent writers, taken under a lock held until commit, so
	// transactions commit in position order and a reader never sees a
	// position before every smaller one.
	AppendTerminal(rolloutID string) (int, error)
	// TerminalLog returns the ids at positions after+1 .. after+limit, in
	// order, and the number of positions.
	TerminalLog(after, limit int) ([]string, int, error)
	// SpanAttempts returns the attempt ids that have spans, ordered by
	// their first span's insertion.
	SpanAttempts(rolloutID string) ([]string, error)
	// DeleteRollout removes a rollout and everything filed under it
	// (attempts, spans, triplets, messages, queue entries, extension row);
	// its completion log entries stay. A missing rollout is not an error.
	DeleteRollout(rolloutID string) error
	// UpsertModels registers models keyed by (Name, Endpoint).
	UpsertModels(models []llmmodels.Model) error
	// DeleteModels removes every registered model.
	DeleteModels() error
	// Models lists the registered models sorted by Name then Endpoint.
	Models() ([]llmmodels.Model, error)
}

// ScanLocker is an optional interface of a Tx whose database several
// processes share. The watchdog's write transaction calls TryLockScan first
// and changes nothing when it reports false (another process's watchdog is
// at work), so one watchdog at a time marks attempts. The lock ends with the
// transaction.
type ScanLocker interface {
	TryLockScan() (bool, error)
}

// Counts are the record totals reported by statistics.
type Counts struct {
	Rollouts, Attempts, Spans, Resources, Workers, Triplets, Messages int
}

// Op is a filter operator.
type Op int

const (
	// OpExact matches field == Value.
	OpExact Op = iota
	// OpWithin matches field ∈ Values; an empty Values matches nothing.
	OpWithin
	// OpContains matches a substring of a string field; null never matches.
	OpContains
)

// Cond is one condition on a field, named by its JSON key.
type Cond struct {
	Field  string
	Op     Op
	Value  string
	Values []string
}

// Filter is Agent Lightning's generic filter: the Pool conditions are
// combined with Logic ("and" or "or"; an empty pool matches everything), and
// every Must condition is ANDed on top.
type Filter struct {
	Must  []Cond
	Pool  []Cond
	Logic string
}

// Page sorting rules every backend must follow (spec §2.2): SortBy names a
// JSON field of the model (already validated by Core); nulls sort as +∞ for
// fields ending in "_time", as "" for strings, and as 0 for numbers; the sort
// is stable, and ties (and the unsorted order) follow insertion order, except
// spans and attempts whose default order is sequence_id then insertion.

// UndecodableReporter is implemented by backends that skip stored rows they
// cannot decode instead of failing the whole read (a row written by an
// older release, or damaged): Core hands them its logger, and
// UndecodableRows is how many rows reads have skipped so far.
type UndecodableReporter interface {
	SetLogger(*zap.Logger)
	UndecodableRows() int64
}
