package memstore

import (
	"cmp"
	"slices"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/llmmodels"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// modelKey is the key of a registered model.
type modelKey struct{ name, endpoint string }

func (t *tx) GetRolloutExt(rolloutID string) (*model.RolloutExt, error) {
	if err := t.canRead(); err != nil {
		return nil, err
	}
	e, ok := t.st.ext[rolloutID]
	if !ok {
		return nil, nil
	}
	c := *e
	return &c, nil
}

func (t *tx) PutRolloutExt(e *model.RolloutExt) error {
	if err := t.canWrite(); err != nil {
		return err
	}
	st := t.st
	c := *e
	old, had := st.ext[e.RolloutID]
	st.ext[e.RolloutID] = &c
	t.onRollback(func() {
		if had {
			st.ext[e.RolloutID] = old
		} else {
			delete(st.ext, e.RolloutID)
		}
	})
	return nil
}

func (t *tx) V1Rollouts(states []string, limit int) ([]model.Rollout, error) {
	if err := t.canRead(); err != nil {
		return nil, err
	}
	out := []model.Rollout{}
	if limit == 0 {
		return out, nil
	}
	for _, id := range t.st.rollouts.order {
		e, ok := t.st.ext[id]
		if !ok || e.API != model.APIv1 {
			continue
		}
		r := t.st.rollouts.get(id)
		if !slices.Contains(states, string(r.Status)) {
			continue
		}
		out = append(out, *copyRollout(r))
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out, nil
}

func (t *tx) AppendTerminal(rolloutID string) (int, error) {
	if err := t.canWrite(); err != nil {
		return 0, err
	}
	st := t.st
	st.terminal = append(st.terminal, rolloutID)
	t.onRollback(func() { st.terminal = st.terminal[:len(st.terminal)-1] })
	return len(st.terminal), nil
}

func (t *tx) TerminalLog(after, limit int) ([]string, int, error) {
	if err := t.canRead(); err != nil {
		return nil, 0, err
	}
	n := len(t.st.terminal)
	lo := min(max(after, 0), n)
	hi := min(lo+max(limit, 0), n)
	return slices.Clone(t.st.terminal[lo:hi]), n, nil
}

func (t *tx) SpanAttempts(rolloutID string) ([]string, error) {
	if err := t.canRead(); err != nil {
		return nil, err
	}
	out := []string{}
	for _, k := range t.st.spansByRollout[rolloutID] {
		if !slices.Contains(out, k.attemptID) {
			out = append(out, k.attemptID)
		}
	}
	return out, nil
}

func (t *tx) DeleteRollout(rolloutID string) error {
	if err := t.canWrite(); err != nil {
		return err
	}
	st := t.st
	t.onRollback(st.rollouts.remove(rolloutID))
	for _, k := range st.attemptsByRollout[rolloutID] {
		t.onRollback(st.attempts.remove(k))
	}
	for _, k := range st.spansByRollout[rolloutID] {
		t.onRollback(st.spans.remove(k))
	}
	restoreMap(t, st.attemptsByRollout, rolloutID)
	restoreMap(t, st.spansByRollout, rolloutID)
	restoreMap(t, st.seq, rolloutID)
	restoreMap(t, st.ext, rolloutID)
	restoreMap(t, st.tripletAttempts, rolloutID)
	for _, aid := range st.tripletAttempts[rolloutID] {
		k := attemptKey{rolloutID, aid}
		if set := st.triplets[k]; set != nil {
			st.tripletCount -= len(set.records)
			n := len(set.records)
			t.onRollback(func() { st.tripletCount += n })
		}
		restoreMap(t, st.triplets, k)
	}
	if msgs := st.messages[rolloutID]; len(msgs) > 0 {
		n := len(msgs)
		st.messageCount -= n
		t.onRollback(func() { st.messageCount += n })
	}
	restoreMap(t, st.messages, rolloutID)
	if st.queueCount[rolloutID] > 0 {
		old := slices.Clone(st.queue)
		oldCount := st.queueCount[rolloutID]
		st.queue = slices.DeleteFunc(st.queue, func(id string) bool { return id == rolloutID })
		delete(st.queueCount, rolloutID)
		t.onRollback(func() {
			st.queue = old
			st.queueCount[rolloutID] = oldCount
		})
	}
	// Keep the deletes of the maps above for last: restoreMap registered
	// their undo before the triplet and message bookkeeping read them.
	for _, m := range []func(){
		func() { delete(st.attemptsByRollout, rolloutID) },
		func() { delete(st.spansByRollout, rolloutID) },
		func() { delete(st.seq, rolloutID) },
		func() { delete(st.ext, rolloutID) },
		func() {
			for _, aid := range st.tripletAttempts[rolloutID] {
				delete(st.triplets, attemptKey{rolloutID, aid})
			}
			delete(st.tripletAttempts, rolloutID)
		},
		func() { delete(st.messages, rolloutID) },
	} {
		m()
	}
	return nil
}

// restoreMap registers the undo of deleting m[k]: putting back what it
// holds now.
func restoreMap[K comparable, V any](t *tx, m map[K]V, k K) {
	old, had := m[k]
	t.onRollback(func() {
		if had {
			m[k] = old
		}
	})
}

func (t *tx) UpsertModels(models []llmmodels.Model) error {
	if err := t.canWrite(); err != nil {
		return err
	}
	st := t.st
	for _, m := range models {
		k := modelKey{m.Name, m.Endpoint}
		old, had := st.models[k]
		st.models[k] = m.Version
		t.onRollback(func() {
			if had {
				st.models[k] = old
			} else {
				delete(st.models, k)
			}
		})
	}
	return nil
}

func (t *tx) DeleteModels() error {
	if err := t.canWrite(); err != nil {
		return err
	}
	st := t.st
	old := st.models
	st.models = map[modelKey]int{}
	t.onRollback(func() { st.models = old })
	return nil
}

func (t *tx) Models() ([]llmmodels.Model, error) {
	if err := t.canRead(); err != nil {
		return nil, err
	}
	out := make([]llmmodels.Model, 0, len(t.st.models))
	for k, v := range t.st.models {
		out = append(out, llmmodels.Model{Name: k.name, Endpoint: k.endpoint, Version: v})
	}
	slices.SortFunc(out, func(a, b llmmodels.Model) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Endpoint, b.Endpoint))
	})
	return out, nil
}
