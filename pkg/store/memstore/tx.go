package memstore

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

var (
	errReadOnly = errors.New("memstore: write in a read-only transaction")
	errTxDone   = errors.New("memstore: transaction already finished")
)

// tx is one transaction. The backend's lock is held for its whole life, so
// it reads and writes the state directly; undo collects the inverse of every
// write for rollback.
type tx struct {
	st       *state
	writable bool
	done     bool
	undo     []func()
}

var _ store.Tx = (*tx)(nil)

func (t *tx) rollback() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		t.undo[i]()
	}
	t.undo = nil
}

func (t *tx) onRollback(f func()) { t.undo = append(t.undo, f) }

func (t *tx) canRead() error {
	if t.done {
		return errTxDone
	}
	return nil
}

func (t *tx) canWrite() error {
	if t.done {
		return errTxDone
	}
	if !t.writable {
		return errReadOnly
	}
	return nil
}

// --- rollouts ---

func (t *tx) GetRollout(rolloutID string) (*model.Rollout, error) {
	if err := t.canRead(); err != nil {
		return nil, err
	}
	r := t.st.rollouts.get(rolloutID)
	if r == nil {
		return nil, nil
	}
	return copyRollout(r), nil
}

func (t *tx) InsertRollout(r *model.Rollout) error {
	if err := t.canWrite(); err != nil {
		return err
	}
	if t.st.rollouts.get(r.RolloutID) != nil {
		return &store.Error{Type: "ValueError", Message: fmt.Sprintf("Item already exists with primary key(s): rollout_id='%s'", r.RolloutID)}
	}
	t.onRollback(t.st.rollouts.insert(r.RolloutID, copyRollout(r)))
	return nil
}

func (t *tx) UpdateRollout(r *model.Rollout) error {
	if err := t.canWrite(); err != nil {
		return err
	}
	if t.st.rollouts.get(r.RolloutID) == nil {
		return &store.Error{Type: "ValueError", Message: fmt.Sprintf("Item does not exist with primary key(s): rollout_id='%s'", r.RolloutID)}
	}
	t.onRollback(t.st.rollouts.put(r.RolloutID, copyRollout(r)))
	return nil
}

func (t *tx) QueryRollouts(f store.Filter, p store.Page) ([]model.Rollout, int, error) {
	if err := t.canRead(); err != nil {
		return nil, 0, err
	}
	page, total, err := query(t.st.rollouts.all(), rolloutSchema, f, p)
	if err != nil {
		return nil, 0, err
	}
	return copyOut(page, copyRollout), total, nil
}

func (t *tx) WatchedRollouts() ([]model.Rollout, error) {
	if err := t.canRead(); err != nil {
		return nil, err
	}
	out := []model.Rollout{}
	for _, r := range t.st.rollouts.all() {
		if r.Status.Active() && r.Config.Watched() {
			out = append(out, *copyRollout(r))
		}
	}
	return out, nil
}

// --- attempts ---

func (t *tx) GetAttempt(rolloutID, attemptID string) (*model.Attempt, error) {
	if err := t.canRead(); err != nil {
		return nil, err
	}
	a := t.st.attempts.get(attemptKey{rolloutID, attemptID})
	if a == nil {
		return nil, nil
	}
	return copyAttempt(a), nil
}

func (t *tx) LatestAttempts(rolloutIDs []string) (map[string]*model.Attempt, error) {
	if err := t.canRead(); err != nil {
		return nil, err
	}
	out := make(map[string]*model.Attempt, len(rolloutIDs))
	for _, id := range rolloutIDs {
		if a := t.latestAttempt(id); a != nil {
			out[id] = copyAttempt(a)
		}
	}
	return out, nil
}

// latestAttempt is the attempt with the highest sequence_id; among equals
// the one inserted last wins.
func (t *tx) latestAttempt(rolloutID string) *model.Attempt {
	var latest *model.Attempt
	for _, k := range t.st.attemptsByRollout[rolloutID] {
		a := t.st.attempts.get(k)
		if latest == nil || a.SequenceID >= latest.SequenceID {
			latest = a
		}
	}
	return latest
}

func (t *tx) CountAttempts(rolloutID string) (int, error) {
	if err := t.canRead(); err != nil {
		return 0, err
	}
	return len(t.st.attemptsByRollout[rolloutID]), nil
}

func (t *tx) InsertAttempt(a *model.Attempt) error {
	if err := t.canWrite(); err != nil {
		return err
	}
	k := attemptKey{a.RolloutID, a.AttemptID}
	if t.st.attempts.get(k) != nil {
		return &store.Error{Type: "ValueError", Message: fmt.Sprintf("Item already exists with primary key(s): rollout_id='%s', attempt_id='%s'", a.RolloutID, a.AttemptID)}
	}
	t.onRollback(t.st.attempts.insert(k, copyAttempt(a)))
	t.st.attemptsByRollout[a.RolloutID] = append(t.st.attemptsByRollout[a.RolloutID], k)
	t.onRollback(func() { unindex(t.st.attemptsByRollout, k.rolloutID, k) })
	return nil
}

func (t *tx) UpdateAttempt(a *model.Attempt) error {
	if err := t.canWrite(); err != nil {
		return err
	}
	k := attemptKey{a.RolloutID, a.AttemptID}
	if t.st.attempts.get(k) == nil {
		return &store.Error{Type: "ValueError", Message: fmt.Sprintf("Attempt %s not found for rollout %s", a.AttemptID, a.RolloutID)}
	}
	t.onRollback(t.st.attempts.put(k, copyAttempt(a)))
	return nil
}

// QueryAttempts lists one rollout's attempts; unsorted, they come by
// sequence_id and then insertion order.
func (t *tx) QueryAttempts(rolloutID string, p store.Page) ([]model.Attempt, int, error) {
	if err := t.canRead(); err != nil {
		return nil, 0, err
	}
	keys := t.st.attemptsByRollout[rolloutID]
	rows := make([]*model.Attempt, len(keys))
	for i, k := range keys {
		rows[i] = t.st.attempts.get(k)
	}
	if p.SortBy == nil {
		slices.SortStableFunc(rows, func(a, b *model.Attempt) int { return cmp.Compare(a.SequenceID, b.SequenceID) })
	}
	page, total, err := query(rows, attemptSchema, store.Filter{}, p)
	if err != nil {
		return nil, 0, err
	}
	return copyOut(page, copyAttempt), total, nil
}

// --- queue ---

func (t *tx) QueuePush(rolloutIDs ...string) error {
	if err := t.canWrite(); err != nil {
		return err
	}
	if len(rolloutIDs) == 0 {
		return nil
	}
	st := t.st
	before := len(st.queue)
	ids := slices.Clone(rolloutIDs)
	st.queue = append(st.queue, ids...)
	for _, id := range ids {
		st.queueCount[id]++
	}
	t.onRollback(func() {
		st.queue = st.queue[:before]
		for _, id := range ids {
			decCount(st.queueCount, id)
		}
	})
	return nil
}

func (t *tx) QueuePop(n int) ([]string, error) {
	if err := t.canWrite(); err != nil {
		return nil, err
	}
	st := t.st
	n = min(n, len(st.queue))
	if n <= 0 {
		return []string{}, nil
	}
	popped := slices.Clone(st.queue[:n])
	st.queue = st.queue[n:]
	for _, id := range popped {
		decCount(st.queueCount, id)
	}
	t.onRollback(func() {
		st.queue = append(slices.Clone(popped), st.queue...)
		for _, id := range popped {
			st.queueCount[id]++
		}
	})
	return slices.Clone(popped), nil
}

func (t *tx) QueueContains(rolloutID string) (bool, error) {
	if err := t.canRead(); err != nil {
		return false, err
	}
	return t.st.queueCount[rolloutID] > 0, nil
}

func decCount(m map[string]int, k string) {
	if m[k] <= 1 {
		delete(m, k)
		return
	}
	m[k]--
}

// --- span sequence counters ---

func (t *tx) SeqRaise(rolloutID string, v int) error {
	if err := t.canWrite(); err != nil {
		return err
	}
	if cur := t.st.seq[rolloutID]; v > cur {
		t.setSeq(rolloutID, v)
	}
	return nil
}

func (t *tx) SeqIncrement(rolloutID string, n int) (int, error) {
	if err := t.canWrite(); err != nil {
		return 0, err
	}
	v := t.st.seq[rolloutID] + n
	t.setSeq(rolloutID, v)
	return v, nil
}

func (t *tx) setSeq(rolloutID string, v int) {
	st := t.st
	old, had := st.seq[rolloutID]
	st.seq[rolloutID] = v
	t.onRollback(func() {
		if had {
			st.seq[rolloutID] = old
		} else {
			delete(st.seq, rolloutID)
		}
	})
}

// --- spans ---

// InsertSpans stores the spans one by one, so a duplicate earlier in the
// same batch is detected like one already stored.
func (t *tx) InsertSpans(spans []model.Span) ([]bool, error) {
	if err := t.canWrite(); err != nil {
		return nil, err
	}
	st := t.st
	stored := make([]bool, len(spans))
	for i := range spans {
		s := &spans[i]
		k := spanKey{s.RolloutID, s.AttemptID, s.SpanID}
		if st.spans.get(k) != nil {
			continue
		}
		t.onRollback(st.spans.insert(k, copySpan(s)))
		st.spansByRollout[k.rolloutID] = append(st.spansByRollout[k.rolloutID], k)
		t.onRollback(func() { unindex(st.spansByRollout, k.rolloutID, k) })
		stored[i] = true
	}
	return stored, nil
}

// QuerySpans narrows to one rollout's spans when the filter requires an
// exact rollout_id (it always does when Core queries). Unsorted, spans come
// by sequence_id and then insertion order.
func (t *tx) QuerySpans(f store.Filter, p store.Page) ([]model.Span, int, error) {
	if err := t.canRead(); err != nil {
		return nil, 0, err
	}
	var rows []*model.Span
	if id, ok := mustExact(f, "rollout_id"); ok {
		keys := t.st.spansByRollout[id]
		rows = make([]*model.Span, len(keys))
		for i, k := range keys {
			rows[i] = t.st.spans.get(k)
		}
	} else {
		rows = t.st.spans.all()
	}
	if p.SortBy == nil {
		slices.SortStableFunc(rows, func(a, b *model.Span) int { return cmp.Compare(a.SequenceID, b.SequenceID) })
	}
	page, total, err := query(rows, spanSchema, f, p)
	if err != nil {
		return nil, 0, err
	}
	return copyOut(page, copySpan), total, nil
}

// mustExact returns the value of the first exact Must condition on field.
// Narrowing by it is safe because Must is ANDed with everything else.
func mustExact(f store.Filter, field string) (string, bool) {
	for _, c := range f.Must {
		if c.Field == field && c.Op == store.OpExact {
			return c.Value, true
		}
	}
	return "", false
}

// --- resources ---

func (t *tx) GetResources(resourcesID string) (*model.ResourcesUpdate, error) {
	if err := t.canRead(); err != nil {
		return nil, err
	}
	row := t.st.resources.get(resourcesID)
	if row == nil {
		return nil, nil
	}
	return copyResources(&row.res), nil
}

// PutResources upserts a snapshot; it keeps its first position for
// unsorted queries but counts as the newest write for LatestResources.
func (t *tx) PutResources(r *model.ResourcesUpdate) error {
	if err := t.canWrite(); err != nil {
		return err
	}
	t.st.writeCounter++
	row := &resourcesRow{res: *copyResources(r), written: t.st.writeCounter}
	t.onRollback(t.st.resources.put(r.ResourcesID, row))
	return nil
}

func (t *tx) LatestResources() (*model.ResourcesUpdate, error) {
	if err := t.canRead(); err != nil {
		return nil, err
	}
	var latest *resourcesRow
	for _, row := range t.st.resources.all() {
		if latest == nil || row.res.UpdateTime > latest.res.UpdateTime ||
			(row.res.UpdateTime == latest.res.UpdateTime && row.written > latest.written) {
			latest = row
		}
	}
	if latest == nil {
		return nil, nil
	}
	return copyResources(&latest.res), nil
}

func (t *tx) QueryResources(f store.Filter, p store.Page) ([]model.ResourcesUpdate, int, error) {
	if err := t.canRead(); err != nil {
		return nil, 0, err
	}
	all := t.st.resources.all()
	rows := make([]*model.ResourcesUpdate, len(all))
	for i, row := range all {
		rows[i] = &row.res
	}
	page, total, err := query(rows, resourcesSchema, f, p)
	if err != nil {
		return nil, 0, err
	}
	return copyOut(page, copyResources), total, nil
}

// --- workers ---

func (t *tx) GetWorker(workerID string) (*model.Worker, error) {
	if err := t.canRead(); err != nil {
		return nil, err
	}
	w := t.st.workers.get(workerID)
	if w == nil {
		return nil, nil
	}
	return copyWorker(w), nil
}

func (t *tx) PutWorker(w *model.Worker) error {
	if err := t.canWrite(); err != nil {
		return err
	}
	t.onRollback(t.st.workers.put(w.WorkerID, copyWorker(w)))
	return nil
}

func (t *tx) QueryWorkers(f store.Filter, p store.Page) ([]model.Worker, int, error) {
	if err := t.canRead(); err != nil {
		return nil, 0, err
	}
	page, total, err := query(t.st.workers.all(), workerSchema, f, p)
	if err != nil {
		return nil, 0, err
	}
	return copyOut(page, copyWorker), total, nil
}

// --- triplets and messages ---

func (t *tx) ReplaceTriplets(rolloutID, attemptID string, revision int, ts []model.TripletRecord) (bool, error) {
	if err := t.canWrite(); err != nil {
		return false, err
	}
	st := t.st
	k := attemptKey{rolloutID, attemptID}
	old := st.triplets[k]
	if revision <= store.NextRevision {
		revision = 1
		if old != nil {
			revision = old.revision + 1
		}
	} else if old != nil && revision < old.revision {
		return false, nil
	}
	records := make([]model.TripletRecord, len(ts))
	for i, r := range ts {
		// The records belong to this attempt at this revision whatever they
		// say, as in the SQL backends.
		r.RolloutID, r.AttemptID, r.Revision = rolloutID, attemptID, revision
		records[i] = copyTriplet(r)
	}
	st.triplets[k] = &tripletSet{revision: revision, records: records}
	st.tripletCount += len(records)
	if old != nil {
		st.tripletCount -= len(old.records)
	} else {
		st.tripletAttempts[rolloutID] = append(st.tripletAttempts[rolloutID], attemptID)
	}
	t.onRollback(func() {
		st.tripletCount -= len(records)
		if old != nil {
			st.tripletCount += len(old.records)
			st.triplets[k] = old
			return
		}
		delete(st.triplets, k)
		unindex(st.tripletAttempts, rolloutID, attemptID)
	})
	return true, nil
}

// QueryTriplets returns one attempt's triplets by index; with an empty
// attemptID, the whole rollout's, attempt after attempt in sequence order
// (unknown attempts first, then by id), as the SQL backends order them.
func (t *tx) QueryTriplets(rolloutID, attemptID string) ([]model.TripletRecord, error) {
	if err := t.canRead(); err != nil {
		return nil, err
	}
	attempts := []string{attemptID}
	if attemptID == "" {
		attempts = t.tripletAttemptOrder(rolloutID)
	}
	out := []model.TripletRecord{}
	for _, a := range attempts {
		set := t.st.triplets[attemptKey{rolloutID, a}]
		if set == nil {
			continue
		}
		start := len(out)
		for _, r := range set.records {
			out = append(out, copyTriplet(r))
		}
		slices.SortStableFunc(out[start:], func(a, b model.TripletRecord) int { return cmp.Compare(a.Index, b.Index) })
	}
	return out, nil
}

func (t *tx) tripletAttemptOrder(rolloutID string) []string {
	ids := slices.Clone(t.st.tripletAttempts[rolloutID])
	seq := func(id string) int {
		if a := t.st.attempts.get(attemptKey{rolloutID, id}); a != nil {
			return a.SequenceID
		}
		return 0
	}
	slices.SortStableFunc(ids, func(a, b string) int {
		return cmp.Or(cmp.Compare(seq(a), seq(b)), strings.Compare(a, b))
	})
	return ids
}

func (t *tx) InsertMessages(msgs []model.MessageRecord) error {
	if err := t.canWrite(); err != nil {
		return err
	}
	st := t.st
	for i := range msgs {
		m := copyMessage(&msgs[i])
		st.messages[m.RolloutID] = append(st.messages[m.RolloutID], m)
		st.messageCount++
		t.onRollback(func() {
			list := st.messages[m.RolloutID]
			list[len(list)-1] = nil
			if len(list) == 1 {
				delete(st.messages, m.RolloutID)
			} else {
				st.messages[m.RolloutID] = list[:len(list)-1]
			}
			st.messageCount--
		})
	}
	return nil
}

// MaxMessageSequence returns the greatest sequence id of the rollout's
// messages.
func (t *tx) MaxMessageSequence(rolloutID string) (int, error) {
	if err := t.canRead(); err != nil {
		return 0, err
	}
	top := 0
	for _, m := range t.st.messages[rolloutID] {
		top = max(top, m.SequenceID)
	}
	return top, nil
}

// QueryMessages returns a rollout's messages (one attempt's, unless
// attemptID is empty) by sequence id, then insertion order.
func (t *tx) QueryMessages(rolloutID, attemptID string) ([]model.MessageRecord, error) {
	if err := t.canRead(); err != nil {
		return nil, err
	}
	out := []model.MessageRecord{}
	for _, m := range t.st.messages[rolloutID] {
		if attemptID == "" || m.AttemptID == attemptID {
			out = append(out, *copyMessage(m))
		}
	}
	slices.SortStableFunc(out, func(a, b model.MessageRecord) int { return cmp.Compare(a.SequenceID, b.SequenceID) })
	return out, nil
}

func (t *tx) Counts() (store.Counts, error) {
	if err := t.canRead(); err != nil {
		return store.Counts{}, err
	}
	st := t.st
	return store.Counts{
		Rollouts:  st.rollouts.len(),
		Attempts:  st.attempts.len(),
		Spans:     st.spans.len(),
		Resources: st.resources.len(),
		Workers:   st.workers.len(),
		Triplets:  st.tripletCount,
		Messages:  st.messageCount,
	}, nil
}

// --- helpers ---

// copyOut copies a page of stored rows into caller-owned values. The result
// is never nil, so an empty page encodes as [].
func copyOut[T any](rows []*T, cp func(*T) *T) []T {
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = *cp(r)
	}
	return out
}

// unindex removes k from the list under id, dropping the list when it
// empties so that rolled-back inserts leave no trace.
func unindex[K comparable](m map[string][]K, id string, k K) {
	rest := removeLast(m[id], k)
	if len(rest) == 0 {
		delete(m, id)
		return
	}
	m[id] = rest
}
