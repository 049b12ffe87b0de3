package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/memstore"
)

// slowBackend makes every write transaction take a while, so that callers
// arriving meanwhile queue up, and fails the insert of a poisoned span id.
type slowBackend struct {
	store.Backend
	delay  time.Duration
	poison string

	mu      sync.Mutex
	updates int
}

func (b *slowBackend) Update(ctx context.Context, fn func(store.Tx) error) error {
	b.mu.Lock()
	b.updates++
	b.mu.Unlock()
	time.Sleep(b.delay) // the commit latency during which others queue
	return b.Backend.Update(ctx, func(tx store.Tx) error { return fn(poisonTx{Tx: tx, poison: b.poison}) })
}

type poisonTx struct {
	store.Tx
	poison string
}

var errPoison = errors.New("poisoned span")

func (t poisonTx) InsertSpans(spans []model.Span) ([]bool, error) {
	for _, s := range spans {
		if t.poison != "" && s.SpanID == t.poison {
			return nil, errPoison
		}
	}
	return t.Tx.InsertSpans(spans)
}

func ingestItem(rollout, spanID string) store.IngestItem {
	return store.IngestItem{
		Span:           model.Span{RolloutID: rollout, AttemptID: "at-" + rollout, TraceID: "t", SpanID: spanID, Name: "s"},
		CreateMetadata: []byte(`{}`),
	}
}

// Concurrent ingests share transactions, every caller returns only after its
// spans are readable, and one failing request costs only its own spans.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	backend := &slowBackend{Backend: memstore.New(), delay: 20 * time.Millisecond, poison: "bad"}
	s := store.New(backend, store.Options{})
	defer s.Close()

	const callers = 40
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			rollout := fmt.Sprintf("ro-%02d", i)
			items := []store.IngestItem{ingestItem(rollout, "a"), ingestItem(rollout, "b")}
			if i == 7 {
				items = append(items, ingestItem(rollout, "bad"))
			}
			_, errs[i] = s.IngestSpans(ctx, items)
			if errs[i] != nil {
				return
			}
			// Acknowledged means readable now, not eventually.
			got, err := s.QuerySpans(ctx, store.SpanQuery{RolloutID: rollout, Page: store.AllPage()})
			if err != nil || len(got.Items) != 2 {
				errs[i] = fmt.Errorf("right after the ingest returned, %d spans readable (err %v)", len(got.Items), err)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		switch {
		case i == 7 && !errors.Is(err, errPoison):
			t.Errorf("caller 7 (poisoned span): got %v, want the poison error", err)
		case i != 7 && err != nil:
			t.Errorf("caller %d: %v", i, err)
		}
	}
	if got, _ := s.QuerySpans(ctx, store.SpanQuery{RolloutID: "ro-07", Page: store.AllPage()}); len(got.Items) != 0 {
		t.Errorf("the failed request's spans were stored: %d", len(got.Items))
	}
	txs, reqs := s.GroupStats()
	backend.mu.Lock()
	updates := backend.updates
	backend.mu.Unlock()
	// 40 callers, one of them retried without the poisoned one: far fewer
	// transactions than callers means they were grouped.
	if txs >= callers/2 || int64(updates) != txs {
		t.Errorf("%d group transactions (%d backend updates) for %d callers, want them grouped", txs, updates, callers)
	}
	if reqs < callers {
		t.Errorf("group transactions carried %d requests, want at least %d", reqs, callers)
	}
}

// A caller whose context ends while it waits gets the context's error; the
// store keeps working for the others.
func TestGroupCommitCallerGivesUp(t *testing.T) {
	backend := &slowBackend{Backend: memstore.New(), delay: 200 * time.Millisecond}
	s := store.New(backend, store.Options{})
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.IngestSpans(ctx, []store.IngestItem{ingestItem("ro-x", "a")}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the deadline", err)
	}
	if _, err := s.IngestSpans(context.Background(), []store.IngestItem{ingestItem("ro-y", "a")}); err != nil {
		t.Fatal(err)
	}
}

// After Close, writes are refused rather than left waiting.
func TestGroupCommitAfterClose(t *testing.T) {
	s := store.New(memstore.New(), store.Options{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.IngestSpans(context.Background(), []store.IngestItem{ingestItem("ro-x", "a")}); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("got %v, want ErrClosed", err)
	}
}
