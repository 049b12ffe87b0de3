package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

// TestBadRowsDoNotBreakReads: rows that a release before the depth limit
// could write (a rollout input nested 1 500 levels, past SQLite's JSON
// functions; a span nested 20 000 levels, past Go's decoder) neither fail
// the reads that list them nor the sorts over their fields: the rows that
// decode come back, the others are skipped and counted.
func TestBadRowsDoNotBreakReads(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	core := store.New(openAt(t, path), store.Options{})
	t.Cleanup(func() { _ = core.Close() })

	victim, err := core.StartRollout(ctx, store.StartRolloutRequest{Input: json.RawMessage(`{"task":"victim"}`)})
	require.NoError(t, err)
	hostile, err := core.StartRollout(ctx, store.StartRolloutRequest{Input: json.RawMessage(`{}`)})
	require.NoError(t, err)
	aid := victim.Attempt.AttemptID
	for _, id := range []string{"0000000000000001", "0000000000000002"} {
		_, err := core.AddSpan(ctx, model.Span{RolloutID: victim.RolloutID, AttemptID: aid, SequenceID: 0,
			TraceID: "00000000000000000000000000000001", SpanID: id, Name: "ok", Attributes: model.Attributes{}})
		require.NoError(t, err)
	}

	// Write past the doors, as an older release did.
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	deepInput := strings.Repeat("[", 1500) + strings.Repeat("]", 1500)
	_, err = db.ExecContext(ctx, `UPDATE rollouts SET doc = json_set(doc, '$.input', 0) WHERE rollout_id = ?`, hostile.RolloutID)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `UPDATE rollouts SET doc = replace(doc, '"input":0', '"input":'||?) WHERE rollout_id = ?`, deepInput, hostile.RolloutID)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `UPDATE spans SET doc = replace(doc, '"attributes":{}', '"attributes":{"deep":'||?||'}')
		WHERE span_id = '0000000000000002'`, strings.Repeat("[", 20000)+strings.Repeat("]", 20000))
	require.NoError(t, err)

	for _, field := range []string{"input", "metadata", "config"} {
		for _, order := range []string{store.SortAsc, store.SortDesc} {
			got, err := core.QueryRollouts(ctx, store.RolloutQuery{Page: store.Page{SortBy: &field, SortOrder: order, Limit: -1}})
			require.NoError(t, err, "sort_by %s %s", field, order)
			assert.Len(t, got.Items, 2)
		}
	}

	spans, err := core.QuerySpans(ctx, store.SpanQuery{RolloutID: victim.RolloutID, Page: store.AllPage()})
	require.NoError(t, err)
	require.Len(t, spans.Items, 1)
	assert.Equal(t, "0000000000000001", spans.Items[0].SpanID)
	raw, err := core.QuerySpansRaw(ctx, store.SpanQuery{RolloutID: victim.RolloutID, Page: store.AllPage()})
	require.NoError(t, err)
	assert.Len(t, raw.Items, 1)
	assert.EqualValues(t, 2, core.UndecodableRows())
}
