package store_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store/memstore"
)

func TestSubscribeAttempts(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	var clockMu sync.Mutex
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	s := store.New(memstore.New(), store.Options{Clock: clock})
	defer s.Close()
	var mu sync.Mutex
	var got []store.AttemptEvent
	unsubscribe := s.SubscribeAttempts(func(e store.AttemptEvent) { mu.Lock(); got = append(got, e); mu.Unlock() })

	r, err := s.StartRollout(ctx, store.StartRolloutRequest{Config: &model.RolloutConfig{MaxAttempts: 1, TimeoutSeconds: model.Ptr(5.0)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateAttempt(ctx, r.RolloutID, store.LatestAttempt, store.AttemptUpdate{Metadata: store.To[json.RawMessage](json.RawMessage(`{"a":1}`))}); err != nil {
		t.Fatal(err)
	}
	r2, _ := s.StartRollout(ctx, store.StartRolloutRequest{Config: &model.RolloutConfig{MaxAttempts: 1, TimeoutSeconds: model.Ptr(5.0)}})
	if _, err := s.UpdateAttempt(ctx, r.RolloutID, store.LatestAttempt, store.AttemptUpdate{Status: store.To(model.AttemptSucceeded)}); err != nil {
		t.Fatal(err)
	}
	clockMu.Lock()
	now = now.Add(10 * time.Second)
	clockMu.Unlock()
	if err := s.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	unsubscribe()
	_, _ = s.StartAttempt(ctx, r.RolloutID, nil)
	_, _ = s.UpdateAttempt(ctx, r.RolloutID, store.LatestAttempt, store.AttemptUpdate{Status: store.To(model.AttemptFailed)})

	want := []store.AttemptEvent{
		{RolloutID: r.RolloutID, AttemptID: r.Attempt.AttemptID, Status: model.AttemptSucceeded},
		{RolloutID: r2.RolloutID, AttemptID: r2.Attempt.AttemptID, Status: model.AttemptTimeout},
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("events %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("event %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
