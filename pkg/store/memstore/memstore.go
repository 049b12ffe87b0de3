// Package memstore is an in-memory store.Backend. It keeps every record in
// maps with insertion-order key lists, so queries are stable and need no
// database. It suits tests and single-process experiments; nothing survives
// a restart.
package memstore

import (
	"context"
	"slices"
	"sync"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// name is reported as the store name in statistics; it is the class name of
// Agent Lightning's in-memory store, so dashboards read the same.
const name = "InMemoryLightningStore"

// backend serialises writers with a mutex: Update takes the write lock and
// View the read lock, so a View always sees a consistent snapshot.
type backend struct {
	mu     sync.RWMutex
	closed bool
	data   *state
}

// New returns an empty in-memory backend.
func New() store.Backend {
	return &backend{data: newState()}
}

func (b *backend) Name() string { return name }

// Close drops every record; later transactions fail with store.ErrClosed.
func (b *backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	b.data = nil
	return nil
}

// Update runs fn with exclusive access. Every write logs how to undo
// itself; when fn fails (or panics) the log is replayed backwards, so the
// transaction leaves no trace.
func (b *backend) Update(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return store.ErrClosed
	}
	t := &tx{st: b.data, writable: true}
	committed := false
	defer func() {
		if !committed {
			t.rollback()
		}
		t.done = true
	}()
	if err := fn(t); err != nil {
		return err
	}
	committed = true
	return nil
}

// View runs fn with shared access; writes inside it fail.
func (b *backend) View(ctx context.Context, fn func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return store.ErrClosed
	}
	t := &tx{st: b.data}
	defer func() { t.done = true }()
	return fn(t)
}

// attemptKey is the primary key of attempts, and also scopes triplets.
type attemptKey struct{ rolloutID, attemptID string }

// spanKey is the primary key of spans (spec §2.1).
type spanKey struct{ rolloutID, attemptID, spanID string }

// resourcesRow remembers when a snapshot was last written, because
// LatestResources breaks update_time ties in favour of the last write.
type resourcesRow struct {
	res     model.ResourcesUpdate
	written uint64
}

// tripletSet is the current revision of one attempt's triplets.
type tripletSet struct {
	revision int
	records  []model.TripletRecord
}

// state is everything the backend stores. Rows are held by pointer and never
// changed in place: a write swaps in a fresh copy, so undoing it only has to
// put the old pointer back.
type state struct {
	rollouts  table[string, model.Rollout]
	attempts  table[attemptKey, model.Attempt]
	spans     table[spanKey, model.Span]
	resources table[string, resourcesRow]
	workers   table[string, model.Worker]

	// Per-rollout key lists in insertion order, so the usual per-rollout
	// queries do not scan every record.
	attemptsByRollout map[string][]attemptKey
	spansByRollout    map[string][]spanKey

	queue        []string
	queueCount   map[string]int
	seq          map[string]int
	writeCounter uint64

	triplets        map[attemptKey]*tripletSet
	tripletAttempts map[string][]string // rollout → ids of the attempts with triplets
	tripletCount    int

	messages     map[string][]*model.MessageRecord // rollout → messages in insertion order
	messageCount int

	// Agent Lightning v1.0 (v1.go).
	ext      map[string]*model.RolloutExt
	terminal []string // the completion log; position i+1 is terminal[i]
	models   map[modelKey]int
}

func newState() *state {
	return &state{
		rollouts:          newTable[string, model.Rollout](),
		attempts:          newTable[attemptKey, model.Attempt](),
		spans:             newTable[spanKey, model.Span](),
		resources:         newTable[string, resourcesRow](),
		workers:           newTable[string, model.Worker](),
		attemptsByRollout: map[string][]attemptKey{},
		spansByRollout:    map[string][]spanKey{},
		queueCount:        map[string]int{},
		seq:               map[string]int{},
		triplets:          map[attemptKey]*tripletSet{},
		tripletAttempts:   map[string][]string{},
		messages:          map[string][]*model.MessageRecord{},
		ext:               map[string]*model.RolloutExt{},
		models:            map[modelKey]int{},
	}
}

// table is a map that remembers insertion order. Upserts keep a key's
// original position, which is the order unsorted queries return.
type table[K comparable, V any] struct {
	order []K
	rows  map[K]*V
}

func newTable[K comparable, V any]() table[K, V] {
	return table[K, V]{rows: map[K]*V{}}
}

func (t *table[K, V]) get(k K) *V { return t.rows[k] }

func (t *table[K, V]) len() int { return len(t.rows) }

// insert appends a new key; the caller has checked that k is absent. The
// returned function undoes the insert.
func (t *table[K, V]) insert(k K, v *V) func() {
	t.order = append(t.order, k)
	t.rows[k] = v
	return func() {
		delete(t.rows, k)
		t.order = removeLast(t.order, k)
	}
}

// put inserts or replaces the row of k and returns its undo.
func (t *table[K, V]) put(k K, v *V) func() {
	old, ok := t.rows[k]
	if !ok {
		return t.insert(k, v)
	}
	t.rows[k] = v
	return func() { t.rows[k] = old }
}

// all returns the rows in insertion order.
func (t *table[K, V]) all() []*V {
	out := make([]*V, 0, len(t.order))
	for _, k := range t.order {
		out = append(out, t.rows[k])
	}
	return out
}

// removeLast drops k from s. Undo runs in reverse order, so k is normally the
// last element; the scan is only a safety net.
func removeLast[K comparable](s []K, k K) []K {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == k {
			var zero K
			copy(s[i:], s[i+1:])
			s[len(s)-1] = zero
			return s[:len(s)-1]
		}
	}
	return s
}

// remove deletes the row of k, if any, and returns its undo, which puts the
// row back at its original position.
func (t *table[K, V]) remove(k K) func() {
	old, ok := t.rows[k]
	if !ok {
		return func() {}
	}
	i := slices.Index(t.order, k)
	delete(t.rows, k)
	t.order = slices.Delete(t.order, i, i+1)
	return func() {
		t.rows[k] = old
		t.order = slices.Insert(t.order, i, k)
	}
}
