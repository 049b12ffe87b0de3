package sqlstore

import (
	"cmp"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// InsertSpans is the ingest hot path: one prepared statement, bound once to
// the transaction, executed per span; ON CONFLICT DO NOTHING turns a
// duplicate into zero affected rows instead of an aborted transaction.
func (t *tx) InsertSpans(spans []model.Span) ([]bool, error) {
	if t.b.insertRows > 1 && len(spans) > 1 {
		return t.insertSpanRows(spans)
	}
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

// spanColumns are the columns of one span row, in the order of spanArgs.
const spanColumns = "rollout_id, attempt_id, sequence_id, trace_id, span_id, parent_id, name, start_time, end_time, doc"

const spanColumnCount = 10

func spanArgs(op string, s *model.Span, args []any) ([]any, error) {
	doc, err := s.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("%s: encode span %s: %w", op, s.SpanID, err)
	}
	return append(args, s.RolloutID, s.AttemptID, s.SequenceID, s.TraceID, s.SpanID, s.ParentID,
		s.Name, s.StartTime, s.EndTime, string(doc)), nil
}

// spanKey identifies a span in the spans table.
type spanKey struct{ rollout, attempt, span string }

// insertSpanRows inserts spans with multi-row INSERTs, in chunks whose sizes
// are powers of two (at most insertRows), so that only a handful of
// distinct statements exist for the database to cache. RETURNING names the
// spans stored; a span absent from it was a duplicate. Rows of one VALUES
// list are inserted in order, so seq keeps the arrival order and, for a
// span repeated in the batch, the first copy is the one stored.
func (t *tx) insertSpanRows(spans []model.Span) ([]bool, error) {
	const op = "insert spans"
	stored := make([]bool, len(spans))
	args := make([]any, 0, min(len(spans), t.b.insertRows)*spanColumnCount)
	for start := 0; start < len(spans); {
		n := powerOfTwoAtMost(min(len(spans)-start, t.b.insertRows))
		chunk := spans[start : start+n]
		args = args[:0]
		for i := range chunk {
			var err error
			if args, err = spanArgs(op, &chunk[i], args); err != nil {
				return nil, err
			}
		}
		inserted, err := t.insertSpanChunk(op, n, args)
		if err != nil {
			return nil, err
		}
		for i := range chunk {
			k := spanKey{chunk[i].RolloutID, chunk[i].AttemptID, chunk[i].SpanID}
			if inserted[k] {
				stored[start+i] = true
				delete(inserted, k)
			}
		}
		start += n
	}
	return stored, nil
}

func (t *tx) insertSpanChunk(op string, n int, args []any) (map[spanKey]bool, error) {
	row := "(" + placeholders(spanColumnCount) + ")"
	q := "INSERT INTO spans (" + spanColumns + ") VALUES " + strings.Repeat(row+", ", n-1) + row +
		" ON CONFLICT DO NOTHING RETURNING rollout_id, attempt_id, span_id"
	rows, err := t.queryText(t.b.d.Rebind(q), args...)
	if err != nil {
		return nil, t.wrap(op, err)
	}
	defer rows.Close()
	inserted := make(map[spanKey]bool, n)
	for rows.Next() {
		var k spanKey
		if err := rows.Scan(&k.rollout, &k.attempt, &k.span); err != nil {
			return nil, t.wrap(op, err)
		}
		inserted[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, t.wrap(op, err)
	}
	return inserted, nil
}

// powerOfTwoAtMost returns the largest power of two not above n (0 for n < 1).
func powerOfTwoAtMost(n int) int {
	if n < 1 {
		return 0
	}
	p := 1
	for p <= n/2 {
		p *= 2
	}
	return p
}

func (t *tx) QuerySpans(f store.Filter, p store.Page) ([]model.Span, int, error) {
	return queryPage[model.Span](t, &t.b.tables.spans, f, p)
}

// QuerySpansRaw returns the stored documents, which are json.Marshal of the
// spans: checked to be JSON, not decoded.
func (t *tx) QuerySpansRaw(f store.Filter, p store.Page) ([]json.RawMessage, int, error) {
	return queryPage[json.RawMessage](t, &t.b.tables.spans, f, p)
}

var _ store.RawSpanTx = (*tx)(nil)

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
