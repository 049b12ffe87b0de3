package sqlstore

import (
	"cmp"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// InsertSpans is the ingest hot path: one prepared statement, bound once to
// the transaction, executed per span; ON CONFLICT DO NOTHING turns a
// duplicate into zero affected rows instead of an aborted transaction.
func (t *tx) InsertSpans(spans []model.Span) ([]bool, error) {
	const op = "insert spans"
	stored := make([]bool, len(spans))
	for i := range spans {
		s := &spans[i]
		// Calling MarshalJSON directly skips json.Marshal's second pass
		// over the output, a quarter of the ingest CPU.
		doc, err := s.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("%s: encode span %s: %w", op, s.SpanID, err)
		}
		res, err := t.exec(stmtInsertSpan, s.RolloutID, s.AttemptID, s.SequenceID, s.TraceID, s.SpanID, s.ParentID,
			s.Name, s.StartTime, s.EndTime, string(doc))
		if err != nil {
			return nil, t.wrap(op, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, t.wrap(op, err)
		}
		stored[i] = n > 0
	}
	return stored, nil
}

func (t *tx) QuerySpans(f store.Filter, p store.Page) ([]model.Span, int, error) {
	return queryPage[model.Span](t, &t.b.tables.spans, f, p)
}

func (t *tx) SeqRaise(rolloutID string, v int) error {
	if v <= 0 {
		// Counters start at 0, so they are already at least v.
		return nil
	}
	_, err := t.exec(stmtSeqRaise, rolloutID, v)
	return t.wrap("raise span sequence", err)
}

func (t *tx) SeqIncrement(rolloutID string, n int) (int, error) {
	var v int
	if err := t.queryRow(stmtSeqIncrement, rolloutID, n).Scan(&v); err != nil {
		return 0, t.wrap("increment span sequence", err)
	}
	return v, nil
}

func (t *tx) QueuePush(rolloutIDs ...string) error {
	for _, id := range rolloutIDs {
		if _, err := t.exec(stmtQueuePush, id); err != nil {
			return t.wrap("push queue", err)
		}
	}
	return nil
}

func (t *tx) QueuePop(n int) ([]string, error) {
	const op = "pop queue"
	if n <= 0 {
		return nil, nil
	}
	rows, err := t.query(stmtQueuePop, n)
	if err != nil {
		return nil, t.wrap(op, err)
	}
	defer rows.Close()
	type item struct {
		pos int64
		id  string
	}
	var items []item
	for rows.Next() {
		var it item
		if err := rows.Scan(&it.pos, &it.id); err != nil {
			return nil, t.wrap(op, err)
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, t.wrap(op, err)
	}
	// RETURNING gives no order guarantee; the queue is FIFO by position.
	slices.SortFunc(items, func(a, b item) int { return cmp.Compare(a.pos, b.pos) })
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.id
	}
	return ids, nil
}

func (t *tx) QueueContains(rolloutID string) (bool, error) {
	var one int
	err := t.queryRow(stmtQueueContains, rolloutID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, t.wrap("queue contains", err)
	}
	return true, nil
}
